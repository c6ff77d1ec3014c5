# Suture's front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.suture-installed

.PHONY: help setup tools debian-packages lint test test-unit test-cluster test-chart crds chart cluster-up cluster-down demo demo-down clean chaos bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The stamp is keyed on pyproject.toml: editing dependencies reinstalls,
# running `make setup` again otherwise costs nothing.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create the virtualenv and install Suture with its dev tools (idempotent)

tools: ## build and cache the control-plane binaries in ~/.cache/suture (idempotent)
	hack/build-tools.sh kube etcd kwok helm alertmanager

debian-packages: ## install the Debian packages tests need (PostgreSQL 15) when missing
	hack/ensure-debian-packages.sh

lint: setup ## ruff, mypy --strict and the import-layer contracts
	$(BIN)/ruff check operator actions tests benchmarks hack
	$(BIN)/ruff format --check operator actions tests benchmarks hack
	$(BIN)/mypy
	$(BIN)/lint-imports

crds: setup ## regenerate crds/ from the pydantic models
	$(BIN)/suture crds --output-dir crds

chart: setup ## render the chart's RBAC rules (charts/suture/files/rbac-rules.yaml) and copy crds/ into it
	$(BIN)/python hack/chart-rbac.py
	cp crds/*.suture.dev.yaml charts/suture/crds/
	rm -f charts/suture/crds/approval-policy.suture.dev.yaml

test: setup lint tools debian-packages ## lint, then the whole test suite against a real local control plane
	$(BIN)/pytest -q -ra tests

test-unit: setup ## unit tests only (no cluster)
	$(BIN)/pytest -q tests/unit

test-cluster: setup tools ## cluster tests only
	$(BIN)/pytest -q -ra tests/cluster

test-chart: setup tools debian-packages ## long: helm install + every example template under the chart's RBAC, the example action pack
	$(BIN)/pytest -q -ra -m long tests/cluster

cluster-up: tools ## start the local control plane; prints KUBECONFIG=<path> last
	@hack/cluster-up.sh

cluster-down: ## stop the local control plane and remove its state
	@hack/cluster-down.sh

demo: ## Prometheus rules -> Alertmanager -> Suture -> verified outcomes, learning included (starts over when run again)
	@hack/demo.sh

demo-down: ## stop every process `make demo` started and remove its cluster
	@hack/demo-down.sh

# The cluster of SUTURE_TEST_KUBECONFIG, else the local control plane (started when down).
BENCH_KUBECONFIG = $${SUTURE_TEST_KUBECONFIG:-$$(hack/cluster-up.sh | tail -1 | sed 's/^KUBECONFIG=//')}

chaos: setup tools ## 30 seeded trials SIGKILLing `suture run` under alerts and runs (CHAOS_TRIALS=n); table + benchmarks/out/chaos.json
	@K="$(BENCH_KUBECONFIG)" && $(BIN)/python benchmarks/chaos.py --kubeconfig "$$K" --trials $${CHAOS_TRIALS:-30}

bench: setup tools ## every benchmark, one table with targets; benchmarks/out/summary.json (BENCH_QUICK=1: smaller)
	@K="$(BENCH_KUBECONFIG)" && $(BIN)/python benchmarks/summary.py --kubeconfig "$$K" $${BENCH_QUICK:+--quick}

clean: ## remove the virtualenv and build leftovers (the tool cache stays)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
