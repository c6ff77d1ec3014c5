"""The ``suture`` command line.

Every failure ends in one line on standard error naming what went wrong (no
kubeconfig, an unknown context, an API server that does not answer, an object
that is not there, a request RBAC forbids) and a non-zero exit code; ``-v``
adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from suture.errors import UnknownAction
from suture.explain import CliError, explain
from suture.kubeconfig import ClusterTarget, KubeconfigError, resolve_cluster
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
    from suture.config import load_settings
    from suture.validation import validate_paths

    registry = _registry_or_exit()
    assert isinstance(registry, Registry)
    report = validate_paths(args.paths, registry, prometheus=bool(load_settings().prometheus_url))
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
    except UnknownAction as exc:
        print(f"error: {exc}", file=sys.stderr)
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


# `suture run` flags and the environment variables they override: one table, so --help and the
# settings cannot disagree. (flag, env var, default shown in --help, help text)
_RUN_FLAGS: list[tuple[str, str, str, str]] = [
    ("--port", "SUTURE_PORT", "8080", "port of the webhook, /healthz, /readyz and /metrics"),
    ("--listen-address", "SUTURE_LISTEN_ADDRESS", "0.0.0.0", "address the HTTP server binds"),
    ("--webhook-token-file", "SUTURE_WEBHOOK_TOKEN_FILE", "none", "file with the bearer token Alertmanager sends"),
    ("--webhook-basic-auth-file", "SUTURE_WEBHOOK_BASIC_AUTH_FILE", "none", "file with one user:password line"),
    ("--tls-cert-file", "SUTURE_TLS_CERT_FILE", "none", "PEM certificate to serve HTTPS"),
    ("--tls-key-file", "SUTURE_TLS_KEY_FILE", "none", "PEM key of the certificate"),
    ("--webhook-max-body", "SUTURE_WEBHOOK_MAX_BODY", "1048576", "largest webhook body in bytes (larger: 413)"),
    ("--webhook-max-in-flight", "SUTURE_WEBHOOK_MAX_IN_FLIGHT", "64", "webhook requests at once (more: 503)"),
    (
        "--home-namespace",
        "SUTURE_HOME_NAMESPACE",
        "$POD_NAMESPACE, else default",
        "the operator's own namespace: the global pause, and Remediations of ClusterWorkflowTemplates",
    ),
    ("--api-timeout", "SUTURE_WEBHOOK_API_TIMEOUT", "5", "seconds per API call before the webhook answers 503"),
    ("--log-format", "SUTURE_LOG_FORMAT", "text", "text, or json: one object per line with the run's fields"),
    ("--lease-name", "SUTURE_LEASE_NAME", "suture-leader", "leader-election Lease in the home namespace"),
    ("--lease-duration", "SUTURE_LEASE_DURATION", "15", "seconds before a dead leader's Lease is taken over"),
    ("--lease-renew-deadline", "SUTURE_LEASE_RENEW_DEADLINE", "10", "seconds of failed renewals before stepping down"),
    ("--lease-retry-period", "SUTURE_LEASE_RETRY_PERIOD", "2", "seconds between attempts to take or renew the Lease"),
    ("--shutdown-timeout", "SUTURE_SHUTDOWN_TIMEOUT", "30", "on SIGTERM, seconds for in-flight steps to checkpoint"),
]


def _run_environment(args: argparse.Namespace) -> dict[str, str]:
    """The environment variables ``suture run``'s flags stand for; flags win over the environment."""
    overrides = {}
    for flag, env, _, _ in _RUN_FLAGS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            overrides[env] = str(value)
    if args.insecure_webhook:
        overrides["SUTURE_INSECURE_WEBHOOK"] = "1"
    if args.leader_election:
        overrides["SUTURE_LEADER_ELECTION"] = "1"
    if args.namespace:
        overrides["SUTURE_NAMESPACES"] = ",".join(args.namespace)
    return overrides


def _settings_with(overrides: Mapping[str, str]) -> Any:
    """Settings as the environment plus ``overrides`` would give them, leaving the environment as it was."""
    from suture.config import load_settings

    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        return load_settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def cmd_run(args: argparse.Namespace) -> int:
    """Run the operator until interrupted.

    The kubeconfig is checked and the API server asked for its version before
    kopf starts: kopf would otherwise retry an unusable configuration forever.
    A Deployment restarts a pod that exits, so failing fast loses nothing.
    """
    from suture.webhook import CredentialError, require_authenticator

    overrides = _run_environment(args)
    settings = _settings_with(overrides)
    try:  # before the API server: a missing credential is a mistake in the manifest, not a transient
        require_authenticator(
            token_file=settings.webhook_token_file,
            basic_auth_file=settings.webhook_basic_auth_file,
            insecure=settings.insecure_webhook,
        )
    except CredentialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _kube_call(args, lambda kube: kube.request("GET", "/version", timeout=10.0))
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    os.environ.update(overrides)  # the handlers read their settings from the environment, in this process
    import kopf

    import suture.handlers  # noqa: F401  (registers the handlers)

    namespaces = list(args.namespace or settings.namespaces)
    kopf.configure(verbose=args.verbose)
    if settings.log_format == "json":
        from suture.logs import use_json_lines

        use_json_lines()
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=True,  # replicas coordinate through suture.lease, not kopf peering (README: High availability)
        liveness_endpoint=args.liveness,
    )
    return 0


def _kube_call(args: argparse.Namespace, work: Any) -> Any:
    """Run ``work(kube)`` against the cluster the kubeconfig names.

    Raises KubeconfigError when there is no usable kubeconfig (nothing is
    sent), CliError naming the server or the refusal when a request fails.
    """
    import asyncio

    from suture.kube import connect

    target = resolve_cluster(args.kubeconfig)

    async def main() -> Any:
        kube = await connect(target.kubeconfig)
        async with kube:
            return await work(kube)

    try:
        return asyncio.run(main())
    except Exception as exc:
        raise CliError(explain(exc, target)) from exc


def cmd_decide(args: argparse.Namespace) -> int:
    """Approve or reject a Remediation waiting for approval."""
    from suture.approvals import Answer, answer_approval

    decision: Answer = "Approved" if args.command == "approve" else "Rejected"
    approval = _kube_call(
        args,
        lambda kube: answer_approval(
            kube, namespace=args.namespace, name=args.name, decision=decision, reason=args.reason, step=args.step
        ),
    )
    print(
        f"remediation {args.namespace}/{args.name}: {approval.get('decision')} {approval.get('step')} "
        f"by {approval.get('by') or '?'}"
    )
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    """Pause or resume one run (``NAME``), or remediation of every alert (``--all``: a ConfigMap in the
    home namespace, for every replica)."""
    from suture.webhook import set_pause

    paused = args.command == "pause"
    if bool(args.all) == bool(args.name):
        print(f"error: suture {args.command} takes a Remediation's name or --all, not both", file=sys.stderr)
        return 2
    if args.name:
        from suture.approvals import request_pause

        _kube_call(args, lambda kube: request_pause(kube, namespace=args.namespace, name=args.name, paused=paused))
        what = "pauses at its next step boundary" if paused else "continues where it stopped"
        print(f"remediation {args.namespace}/{args.name}: {what}")
        return 0
    _kube_call(args, lambda kube: set_pause(kube, namespace=args.home_namespace, paused=paused, reason=args.reason))
    print(f"remediation {'paused' if paused else 'resumed'} for all alerts")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    """Run a Failed Remediation again from the step that failed."""
    from suture.approvals import request_retry

    attempt = _kube_call(args, lambda kube: request_retry(kube, namespace=args.namespace, name=args.name))
    print(f"remediation {args.namespace}/{args.name}: attempt {attempt} requested from the step that failed")
    return 0


def cmd_new_template(args: argparse.Namespace) -> int:
    """Write a starter template for an alert (rules and the action catalogue, see suture.scaffold)."""
    import yaml

    from suture.actions import Registry
    from suture.scaffold import scaffold

    registry = _registry_or_exit()
    assert isinstance(registry, Registry)
    doc = yaml.safe_load(Path(args.alert).read_text(encoding="utf-8"))
    text = yaml.safe_dump(scaffold(_alert_from(doc), registry=registry), sort_keys=False)
    if args.output in (None, "-"):
        print(text, end="")
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}; check it with: suture validate {args.output}")
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
    from suture.runs import KubeTemplateSource
    from suture.simulation import simulate
    from suture.validation import parse_document, validate_object

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
    from suture.rbac import cluster_role, cluster_role_binding, namespaced_grant, namespaced_manifests

    registry = _registry_or_exit()
    assert isinstance(registry, Registry)
    actions = [a for a in args.actions.split(",") if a] if args.actions else None
    watched = [n for n in (args.watch_namespaces or "").split(",") if n]
    try:
        if watched:
            grant = namespaced_grant(registry, namespaces=watched, actions=actions, gitops_suspend=args.gitops_suspend)
            docs = namespaced_manifests(grant, namespace=args.namespace, service_account=args.service_account)
        else:
            role = cluster_role(registry, actions=actions, gitops_suspend=args.gitops_suspend)
            docs = [role, cluster_role_binding(namespace=args.namespace, service_account=args.service_account)]
    except UnknownAction as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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
    parser.add_argument("--verbose", "-v", action="store_true", help=_VERBOSE)
    sub = parser.add_subparsers(dest="command", required=True)

    crds = sub.add_parser("crds", help="write the CustomResourceDefinitions generated from the models")
    crds.add_argument("--output-dir", default="crds", help="directory to write to, or - for stdout")
    crds.set_defaults(func=cmd_crds)

    validate = sub.add_parser("validate", help="check templates and Remediations for mistakes")
    validate.add_argument("paths", nargs="+", help="files, directories, or - for stdin")
    validate.add_argument("--output", choices=["text", "json"], default="text")
    validate.set_defaults(func=cmd_validate)

    run = sub.add_parser("run", help="run the operator")
    run.add_argument(
        "--kubeconfig", help="kubeconfig of the cluster (env KUBECONFIG; default: in-cluster, then $KUBECONFIG)"
    )
    run.add_argument(
        "--namespace",
        "-n",
        action="append",
        help="watch only this namespace, repeatable (env SUTURE_NAMESPACES, comma-separated; default all)",
    )
    run.add_argument(
        "--liveness",
        default=None,
        help="kopf's own liveness endpoint, e.g. http://127.0.0.1:8081/healthz; the receiver's port already "
        "serves /healthz (no environment variable; default none)",
    )
    for flag, env, default, text in _RUN_FLAGS:
        run.add_argument(flag, default=None, help=f"{text} (env {env}, default {default})")
    run.add_argument(
        "--insecure-webhook",
        action="store_true",
        help="accept webhooks without credentials (env SUTURE_INSECURE_WEBHOOK, default off)",
    )
    run.add_argument(
        "--leader-election",
        action="store_true",
        help="several replicas: only the Lease holder executes runs (env SUTURE_LEADER_ELECTION, default off)",
    )
    run.set_defaults(func=cmd_run)

    for verb, text in (
        ("pause", "pause one run at its next step boundary, or (--all) stop starting remediations for new alerts"),
        ("resume", "continue a paused run, or (--all) start remediating new alerts again"),
    ):
        p = sub.add_parser(verb, help=text)
        p.add_argument("name", nargs="?", help="the Remediation (or --all)")
        p.add_argument("--namespace", "-n", default="default", help="the Remediation's namespace")
        p.add_argument("--all", action="store_true", help="every alert, for every replica")
        p.add_argument(
            "--home-namespace",
            default=os.environ.get("SUTURE_HOME_NAMESPACE") or os.environ.get("POD_NAMESPACE") or "default",
            help="the operator's home namespace (env SUTURE_HOME_NAMESPACE, default $POD_NAMESPACE, else default)",
        )
        p.add_argument("--reason", default="", help="why, shown in every suppressed alert's summary")
        p.add_argument("--kubeconfig", help="kubeconfig (default: $KUBECONFIG)")
        p.set_defaults(func=cmd_pause)

    for verb, text in (
        ("approve", "approve a Remediation waiting for approval"),
        ("reject", "reject a Remediation waiting for approval"),
        ("cancel", "stop a Remediation at its next step boundary"),
        ("retry", "run a Failed Remediation again from the step that failed"),
    ):
        p = sub.add_parser(verb, help=text)
        p.add_argument("name", help="the Remediation")
        p.add_argument("--namespace", "-n", default="default")
        p.add_argument("--kubeconfig", help="kubeconfig (default: $KUBECONFIG)")
        if verb in ("approve", "reject"):
            p.add_argument("--reason", default="", help="why, recorded in the status")
            p.add_argument(
                "--step",
                default=None,
                help="the approval to answer (default: the one the run waits for now; "
                "name a later one to answer it ahead of time)",
            )
        p.set_defaults(func={"cancel": cmd_cancel, "retry": cmd_retry}.get(verb, cmd_decide))

    new = sub.add_parser("new", help="scaffold Suture objects").add_subparsers(dest="new_command", required=True)
    new_template = new.add_parser("template", help="write a starter template for an alert")
    new_template.add_argument("--alert", required=True, help="an alert, or an Alertmanager webhook body, as YAML/JSON")
    new_template.add_argument("--output", "-o", help="file to write (default: standard output)")
    new_template.set_defaults(func=cmd_new_template)

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

    from suture.stats import add_commands as add_stats_commands

    add_stats_commands(sub)

    rbac = sub.add_parser("rbac", help="print the operator's least-privilege ClusterRole and binding")
    rbac.add_argument("--actions", help="comma-separated actions to allow (default: every registered action)")
    rbac.add_argument("--namespace", default="suture", help="namespace of the operator's ServiceAccount")
    rbac.add_argument("--service-account", default="suture", help="the operator's ServiceAccount")
    rbac.add_argument("--gitops-suspend", action="store_true", help="also grant pausing Argo CD/Flux (gitops: suspend)")
    rbac.add_argument("--watch-namespaces", help="comma-separated: Roles in these namespaces only (namespaced mode)")
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
    for command in [*sub.choices.values(), *actions_sub.choices.values()]:
        # SUPPRESS: without the flag after the command, the value given before it stands.
        command.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE)
    return parser


_VERBOSE = "show the traceback of an error (for run: kopf's debug log too)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``suture`` console script; returns the exit code.

    0 on success, 1 when the command fails (one ``error:`` line on standard
    error, the traceback before it with ``-v``), 2 for a usage error.
    """
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except Exception as exc:  # anything unforeseen still ends in one line; -v shows where it came from
        if args.verbose:
            traceback.print_exception(exc)
        known = isinstance(exc, CliError | KubeconfigError)
        print(f"error: {exc if known else explain(exc, _target_or_none(args))}", file=sys.stderr)
        return 1
    return result


def _target_or_none(args: argparse.Namespace) -> ClusterTarget | None:
    """The cluster the command's kubeconfig names, when it names one: only to put its URL in a message."""
    try:
        return resolve_cluster(getattr(args, "kubeconfig", None))
    except KubeconfigError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
