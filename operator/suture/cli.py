"""The ``suture`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from suture.table import render_table


def _registry_or_exit() -> object:
    from suture.actions import RegistryError, load_registry

    try:
        return load_registry()
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_crds(args: argparse.Namespace) -> int:
    """Write the CRDs generated from the models."""
    from suture.crdgen import all_manifests, write_crds

    if args.output_dir == "-":
        sys.stdout.write("---\n".join(all_manifests().values()))
        return 0
    for path in write_crds(Path(args.output_dir)):
        print(f"wrote {path}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate template and Remediation documents."""
    from suture.actions import Registry
    from suture.validation import validate_paths

    registry = _registry_or_exit()
    assert isinstance(registry, Registry)
    report = validate_paths(args.paths, registry)
    if args.output == "json":
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for problem in report.problems:
            print(problem.render(), file=sys.stdout)
        errors = len(report.errors)
        summary = f"{report.documents} document(s) checked, {errors} error(s)"
        warnings = len(report.problems) - errors
        if warnings:
            summary += f", {warnings} warning(s)"
        print(summary + ("" if errors else ": all valid"))
    return 0 if report.valid else 1


def cmd_actions_list(args: argparse.Namespace) -> int:
    """List the registered actions."""
    from suture.actions import Registry

    registry = _registry_or_exit()
    assert isinstance(registry, Registry)
    described = [spec.describe() for spec in registry]
    if args.output == "json":
        print(json.dumps({"actions": described}, indent=2))
        return 0
    rows = [
        [
            d["name"],
            d["family"],
            d["risk"],
            "yes" if d["reversible"] else "no",
            "yes" if d["supportsDryRun"] else "no",
            d["description"],
        ]
        for d in described
    ]
    print(render_table(["name", "family", "risk", "undo", "dry-run", "description"], rows, max_width=70))
    return 0


def cmd_actions_show(args: argparse.Namespace) -> int:
    """Show one action in full."""
    from suture.actions import Registry

    registry = _registry_or_exit()
    assert isinstance(registry, Registry)
    try:
        spec = registry.get(args.name)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    d = spec.describe()
    if args.output == "json":
        print(json.dumps(d, indent=2))
        return 0
    print(f"{d['name']} ({d['family']}, risk {d['risk']}, pack {d['pack']})")
    print(f"  {d['description']}")
    print(f"  undo: {d['undo'] or 'cannot be undone'}")
    print(f"  server-side dry-run: {'yes' if d['supportsDryRun'] else 'no'}")
    print("\nParameters:")
    rows = [
        [
            p["name"],
            p["type"],
            "yes" if p["required"] else "no",
            "" if p["default"] is None else json.dumps(p["default"]),
            ", ".join(f"{k}={v}" for k, v in p["bounds"].items()),
            p["description"],
        ]
        for p in d["params"]
    ]
    print(render_table(["name", "type", "required", "default", "bounds", "description"], rows))
    print("\nRBAC:")
    for rule in d["rbac"]:
        group = rule["apiGroups"][0] or "core"
        print(f"  {group}: {', '.join(rule['resources'])} [{', '.join(rule['verbs'])}]")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the operator until interrupted."""
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    import kopf

    import suture.handlers  # noqa: F401  (registers the handlers)
    from suture.config import load_settings

    settings = load_settings()
    namespaces = list(args.namespace or settings.namespaces)
    kopf.configure(verbose=args.verbose)
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=not settings.peering,
        peering_name=settings.peering or None,
        liveness_endpoint=args.liveness,
    )
    return 0


def _kube_call(args: argparse.Namespace, work: Any) -> Any:
    """Run ``work(kube)`` against the cluster the kubeconfig names."""
    import asyncio

    from suture.kube import ApiError, connect

    async def main() -> Any:
        kube = await connect(args.kubeconfig or os.environ.get("KUBECONFIG"))
        async with kube:
            return await work(kube)

    try:
        return asyncio.run(main())
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_decide(args: argparse.Namespace) -> int:
    """Approve or reject a Remediation waiting for approval."""
    from suture.approvals import Answer, answer_approval

    decision: Answer = "Approved" if args.command == "approve" else "Rejected"
    approval = _kube_call(
        args,
        lambda kube: answer_approval(
            kube, namespace=args.namespace, name=args.name, decision=decision, reason=args.reason
        ),
    )
    print(f"remediation {args.namespace}/{args.name}: {approval.get('decision')} by {approval.get('by') or '?'}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Show a Remediation's phase, approval and step timeline."""
    from suture.api import API_VERSION
    from suture.timeline import render_timeline

    body = _kube_call(args, lambda kube: kube.get("Remediation", args.name, args.namespace, api_version=API_VERSION))
    if args.output == "json":
        print(json.dumps(body.get("status") or {}, indent=2))
    else:
        print(render_timeline(body))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a running Remediation."""
    from suture.approvals import request_cancel

    _kube_call(args, lambda kube: request_cancel(kube, namespace=args.namespace, name=args.name))
    print(f"remediation {args.namespace}/{args.name}: cancellation requested")
    return 0


def _alert_from(doc: Any) -> dict[str, Any]:
    """An alert context from a file: an Alertmanager webhook body (first alert) or one alert."""
    if isinstance(doc, dict) and isinstance(doc.get("alerts"), list) and doc["alerts"]:
        doc = doc["alerts"][0]
    if not isinstance(doc, dict):
        raise ValueError("the alert file must hold an alert (labels, annotations) or an Alertmanager webhook body")
    labels = {str(k): str(v) for k, v in (doc.get("labels") or {}).items()}
    return {
        "name": labels.get("alertname", str(doc.get("name", ""))),
        "labels": labels,
        "annotations": {str(k): str(v) for k, v in (doc.get("annotations") or {}).items()},
        "fingerprint": str(doc.get("fingerprint", "")),
        "startsAt": doc.get("startsAt"),
    }


def cmd_simulate(args: argparse.Namespace) -> int:
    """Print the plan a template would run for an alert; nothing changes."""
    import asyncio

    import yaml

    from suture.actions import Registry
    from suture.api import ClusterWorkflowTemplate, WorkflowTemplate
    from suture.kube import connect
    from suture.planview import render_plan
    from suture.runs.templates import KubeTemplateSource
    from suture.simulation import simulate
    from suture.validation import validate_object
    from suture.validation.schema import parse_document

    registry = _registry_or_exit()
    assert isinstance(registry, Registry)
    try:
        raw_template = yaml.safe_load(Path(args.template).read_text())
        alert = _alert_from(yaml.safe_load(Path(args.alert).read_text()))
    except (OSError, yaml.YAMLError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    errors = [p for p in validate_object(raw_template, registry) if p.severity == "error"]
    if errors:
        for problem in errors:
            print(f"{args.template}: {problem.path}: {problem.message}", file=sys.stderr)
        return 1
    template, _ = parse_document(raw_template)
    if not isinstance(template, WorkflowTemplate | ClusterWorkflowTemplate):
        print(f"error: {args.template} holds a {type(template).__name__}, not a template", file=sys.stderr)
        return 1
    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG")
    variables = dict(v.split("=", 1) for v in args.var or [])

    async def run() -> Any:
        promql = None
        if args.prometheus_url:
            from suture.prometheus import HttpPromQLClient

            promql = HttpPromQLClient(args.prometheus_url)
        if not kubeconfig:
            return await simulate(
                template=template, alert=alert, registry=registry, kube=None, promql=promql, variables=variables
            )
        kube = await connect(kubeconfig)
        async with kube:
            return await simulate(
                template=template,
                alert=alert,
                registry=registry,
                kube=kube,
                promql=promql,
                variables=variables,
                templates=KubeTemplateSource(kube),
            )

    plan = asyncio.run(run())
    if args.output == "json":
        print(json.dumps(plan.as_dict(), indent=2, default=str))
        return 0
    print(render_plan(plan, live=bool(kubeconfig)))
    return 0


def cmd_rbac(args: argparse.Namespace) -> int:
    """Print the operator's least-privilege ClusterRole and binding."""
    import yaml

    from suture.actions import Registry
    from suture.rbac import cluster_role, cluster_role_binding

    registry = _registry_or_exit()
    assert isinstance(registry, Registry)
    actions = [a for a in args.actions.split(",") if a] if args.actions else None
    try:
        role = cluster_role(registry, actions=actions, peering=args.peering)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    docs = [role, cluster_role_binding(namespace=args.namespace, service_account=args.service_account)]
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    """Rank the templates that match an alert, with the reasons (reads history, changes nothing)."""
    import yaml

    from suture.config import load_settings
    from suture.recommend.report import (
        RecommendInputError,
        alert_from_document,
        matching_templates,
        recommend,
        render_text,
        to_json_text,
    )

    try:
        alert = alert_from_document(yaml.safe_load(Path(args.alert).read_text()))
        templates = matching_templates(args.templates or [], alert)
        data_dir = None if args.no_history else Path(args.data_dir or load_settings().data_dir)
        ranked = recommend(alert=alert, templates=templates, names=args.candidate or [], data_dir=data_dir)
    except (OSError, yaml.YAMLError, RecommendInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(to_json_text(ranked) if args.output == "json" else render_text(ranked))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="suture", description="Remediate Prometheus alerts on Kubernetes.")
    sub = parser.add_subparsers(dest="command", required=True)

    crds = sub.add_parser("crds", help="write the CustomResourceDefinitions generated from the models")
    crds.add_argument("--output-dir", default="crds", help="directory to write to, or - for stdout")
    crds.set_defaults(func=cmd_crds)

    validate = sub.add_parser("validate", help="check templates and Remediations for mistakes")
    validate.add_argument("paths", nargs="+", help="files, directories, or - for stdin")
    validate.add_argument("--output", choices=["text", "json"], default="text")
    validate.set_defaults(func=cmd_validate)

    run = sub.add_parser("run", help="run the operator")
    run.add_argument("--kubeconfig", help="kubeconfig of the cluster (default: in-cluster, then $KUBECONFIG)")
    run.add_argument("--namespace", "-n", action="append", help="watch only this namespace (repeatable)")
    run.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--verbose", "-v", action="store_true")
    run.set_defaults(func=cmd_run)

    for verb, text in (
        ("approve", "approve a Remediation waiting for approval"),
        ("reject", "reject a Remediation waiting for approval"),
        ("cancel", "stop a Remediation at its next step boundary"),
    ):
        p = sub.add_parser(verb, help=text)
        p.add_argument("name", help="the Remediation")
        p.add_argument("--namespace", "-n", default="default")
        p.add_argument("--kubeconfig", help="kubeconfig (default: $KUBECONFIG)")
        if verb != "cancel":
            p.add_argument("--reason", default="", help="why, recorded in the status")
        p.set_defaults(func=cmd_cancel if verb == "cancel" else cmd_decide)

    status = sub.add_parser("status", help="a Remediation's phase, approval and step timeline")
    status.add_argument("name", help="the Remediation")
    status.add_argument("--namespace", "-n", default="default")
    status.add_argument("--kubeconfig", help="kubeconfig (default: $KUBECONFIG)")
    status.add_argument("--output", choices=["text", "json"], default="text")
    status.set_defaults(func=cmd_status)

    sim = sub.add_parser("simulate", help="print the plan a template would run for an alert (changes nothing)")
    sim.add_argument("--template", required=True, help="a WorkflowTemplate or ClusterWorkflowTemplate file")
    sim.add_argument("--alert", required=True, help="an alert, or an Alertmanager webhook body, as YAML/JSON")
    sim.add_argument("--kubeconfig", help="cluster for live checks and dry-run (default: $KUBECONFIG; none: static)")
    sim.add_argument("--prometheus-url", help="Prometheus for PromQL checks")
    sim.add_argument("--var", action="append", help="override a template variable, NAME=VALUE (repeatable)")
    sim.add_argument("--output", choices=["text", "json"], default="text")
    sim.set_defaults(func=cmd_simulate)

    rec = sub.add_parser("recommend", help="rank the templates that match an alert, with the reasons")
    rec.add_argument("--alert", required=True, help="an alert, or an Alertmanager webhook body, as YAML/JSON")
    rec.add_argument("--templates", action="append", help="template file or directory (repeatable)")
    rec.add_argument("--candidate", action="append", help="a template name to rank as well (repeatable)")
    rec.add_argument("--data-dir", help="data directory whose history to learn from (default: $SUTURE_DATA_DIR)")
    rec.add_argument("--no-history", action="store_true", help="rank on the alert and templates alone")
    rec.add_argument("--output", choices=["text", "json"], default="text")
    rec.set_defaults(func=cmd_recommend)

    rbac = sub.add_parser("rbac", help="print the operator's least-privilege ClusterRole and binding")
    rbac.add_argument("--actions", help="comma-separated actions to allow (default: every registered action)")
    rbac.add_argument("--namespace", default="suture", help="namespace of the operator's ServiceAccount")
    rbac.add_argument("--service-account", default="suture", help="the operator's ServiceAccount")
    rbac.add_argument("--peering", action="store_true", help="also grant kopf peering (several replicas)")
    rbac.set_defaults(func=cmd_rbac)

    actions = sub.add_parser("actions", help="the actions templates can call")
    actions_sub = actions.add_subparsers(dest="actions_command", required=True)
    a_list = actions_sub.add_parser("list", help="list every registered action")
    a_list.add_argument("--output", choices=["table", "json"], default="table")
    a_list.set_defaults(func=cmd_actions_list)
    a_show = actions_sub.add_parser("show", help="show one action's parameters, risk, undo and RBAC")
    a_show.add_argument("name")
    a_show.add_argument("--output", choices=["text", "json"], default="text")
    a_show.set_defaults(func=cmd_actions_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``suture`` console script."""
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
