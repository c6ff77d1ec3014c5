"""`make demo`'s moving parts: a kube-state-metrics stand-in, the Prometheus/Alertmanager stack and the scenario.

Shared by ``hack/demo.sh`` and the end-to-end test that is the demo
(``tests/e2e/test_demo.py``), so both run exactly the same loop.
"""
