"""Operator settings, read from the environment (``SUTURE_*``) with safe defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None else raw.strip().lower() in ("1", "true", "yes", "on")


def _port() -> int:
    """SUTURE_PORT, or the older SUTURE_METRICS_PORT (an alias now: one server serves both), or 8080."""
    raw = os.environ.get("SUTURE_PORT") or os.environ.get("SUTURE_METRICS_PORT", "")
    return int(raw) if raw and raw != "0" else 8080


@dataclass(frozen=True)
class Settings:
    """Everything the operator process can be told."""

    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("SUTURE_DATA_DIR", "./data")))
    """Where the embedded stores (SQLite checkpoints, history, vectors) live."""

    dry_run: bool = field(default_factory=lambda: _flag("SUTURE_DRY_RUN", False))
    """Global dry-run: every action is sent with dryRun=All, whatever the templates say."""

    namespaces: tuple[str, ...] = field(
        default_factory=lambda: tuple(n for n in os.environ.get("SUTURE_NAMESPACES", "").split(",") if n)
    )
    """Namespaces to watch; empty means the whole cluster."""

    max_concurrent_runs: int = field(default_factory=lambda: int(os.environ.get("SUTURE_MAX_RUNS", "10")))
    """Runs executing at once; more are queued in arrival order."""

    checkpoints: str = field(default_factory=lambda: os.environ.get("SUTURE_CHECKPOINTS", ""))
    """Where runs are checkpointed: a PostgreSQL URL, or a SQLite file (default data_dir/checkpoints.sqlite)."""

    database: str = field(default_factory=lambda: os.environ.get("SUTURE_DATABASE_URL", ""))
    """Suture's SQL database (effect journal): a PostgreSQL URL, or a SQLite file (default data_dir/suture.sqlite)."""

    home_namespace: str = field(
        default_factory=lambda: os.environ.get("SUTURE_HOME_NAMESPACE") or os.environ.get("POD_NAMESPACE", "")
    )
    """The operator's own namespace, where its receiver creates Remediations; ClusterWorkflowTemplates run
    from there without listing it in spec.allowedRemediationNamespaces. In a pod, the pod's namespace."""

    log_format: str = field(default_factory=lambda: os.environ.get("SUTURE_LOG_FORMAT", "text"))
    """``text`` or ``json`` (one object per line, with the Remediation, run id and step of run logs)."""

    prometheus_url: str = field(default_factory=lambda: os.environ.get("SUTURE_PROMETHEUS_URL", ""))
    """Prometheus base URL for PromQL conditions and health gates; empty disables them."""

    qdrant_url: str = field(default_factory=lambda: os.environ.get("SUTURE_QDRANT_URL", ""), repr=False)
    """A Qdrant server for the recommender's past alerts (through qdrant-client); empty: the embedded index in
    data_dir. Kept out of repr and logs: a URL may carry credentials."""

    qdrant_api_key: str = field(default_factory=lambda: os.environ.get("SUTURE_QDRANT_API_KEY", ""), repr=False)
    """The Qdrant server's API key, when it asks for one."""

    port: int = field(default_factory=lambda: _port())
    """Port of the one HTTP server: the Alertmanager webhook, /healthz, /readyz and /metrics."""

    listen_address: str = field(default_factory=lambda: os.environ.get("SUTURE_LISTEN_ADDRESS", "0.0.0.0"))
    """Address the HTTP server binds; 0.0.0.0 in a pod, 127.0.0.1 on a laptop or in tests."""

    webhook_token_file: str = field(default_factory=lambda: os.environ.get("SUTURE_WEBHOOK_TOKEN_FILE", ""))
    """File holding the bearer token Alertmanager must send; re-read when it changes."""

    webhook_basic_auth_file: str = field(default_factory=lambda: os.environ.get("SUTURE_WEBHOOK_BASIC_AUTH_FILE", ""))
    """File holding one ``user:password`` line for HTTP basic auth; re-read when it changes."""

    insecure_webhook: bool = field(default_factory=lambda: _flag("SUTURE_INSECURE_WEBHOOK", False))
    """Accept unauthenticated webhooks; without it, no credential file means no start."""

    tls_cert_file: str = field(default_factory=lambda: os.environ.get("SUTURE_TLS_CERT_FILE", ""))
    """PEM certificate (chain) to serve HTTPS; empty serves plain HTTP."""

    tls_key_file: str = field(default_factory=lambda: os.environ.get("SUTURE_TLS_KEY_FILE", ""))
    """PEM private key of the certificate."""

    webhook_max_body: int = field(default_factory=lambda: int(os.environ.get("SUTURE_WEBHOOK_MAX_BODY", "1048576")))
    """Largest webhook body accepted, in bytes; larger ones get 413."""

    webhook_max_in_flight: int = field(
        default_factory=lambda: int(os.environ.get("SUTURE_WEBHOOK_MAX_IN_FLIGHT", "64"))
    )
    """Webhook requests worked on at once; more are answered 503 with Retry-After (Alertmanager retries)."""

    api_timeout: float = field(default_factory=lambda: float(os.environ.get("SUTURE_WEBHOOK_API_TIMEOUT", "5")))
    """Seconds the receiver waits for the API server per call before answering 503."""

    leader_election: bool = field(
        default_factory=lambda: _flag("SUTURE_LEADER_ELECTION", bool(os.environ.get("SUTURE_PEERING")))
    )
    """Several replicas: only the holder of a Lease in the home namespace executes runs and verifies them
    (every replica receives alerts). Off runs standalone. The retired ``SUTURE_PEERING`` turns it on."""

    lease_name: str = field(default_factory=lambda: os.environ.get("SUTURE_LEASE_NAME", "suture-leader"))
    """Name of the leader-election Lease in the home namespace."""

    lease_duration: float = field(default_factory=lambda: float(os.environ.get("SUTURE_LEASE_DURATION", "15")))
    """Seconds an unrenewed Lease stays its holder's: the failover time after a crash."""

    lease_renew_deadline: float = field(
        default_factory=lambda: float(os.environ.get("SUTURE_LEASE_RENEW_DEADLINE", "10"))
    )
    """Seconds the leader keeps failing to renew before it stops (and exits); below the lease duration."""

    lease_retry_period: float = field(default_factory=lambda: float(os.environ.get("SUTURE_LEASE_RETRY_PERIOD", "2")))
    """Seconds between attempts to take or renew the Lease: the failover time after a clean shutdown."""

    shutdown_timeout: float = field(default_factory=lambda: float(os.environ.get("SUTURE_SHUTDOWN_TIMEOUT", "30")))
    """On SIGTERM, seconds in-flight steps get to reach their checkpoint before the runs are stopped
    where they are (the effect journal keeps that exactly-once too); keep it under the pod's
    terminationGracePeriodSeconds."""

    alertmanager_url: str = field(default_factory=lambda: os.environ.get("SUTURE_ALERTMANAGER_URL", ""))
    """Alertmanager base URL the verifier asks (API v2) whether an alert still fires; empty: only the
    resolved notifications recorded by the receiver count."""

    verify_interval: float = field(default_factory=lambda: float(os.environ.get("SUTURE_VERIFY_INTERVAL", "5")))
    """Seconds between checks of a Remediation in phase Verifying."""

    argocd_namespace: str = field(default_factory=lambda: os.environ.get("SUTURE_ARGOCD_NAMESPACE", "argocd"))
    """Argo CD's own namespace: where an Application named by a tracking id without ``<namespace>_`` lives."""

    argocd_label_tracking: bool = field(default_factory=lambda: _flag("SUTURE_ARGOCD_LABEL_TRACKING", False))
    """Argo CD tracks resources by label (its ``application.resourceTrackingMethod: label``)."""

    argocd_instance_label: str = field(
        default_factory=lambda: os.environ.get("SUTURE_ARGOCD_INSTANCE_LABEL", "app.kubernetes.io/instance")
    )
    """The label key of Argo CD's label tracking (its ``application.instanceLabelKey``)."""

    def database_location(self) -> str:
        """The SQL database location, defaulted into the data directory."""
        return self.database or str(self.data_dir / "suture.sqlite")

    def checkpoint_location(self) -> str:
        """The checkpointer location, defaulted into the data directory."""
        return self.checkpoints or str(self.data_dir / "checkpoints.sqlite")


def load_settings() -> Settings:
    """Settings from the current environment."""
    return Settings()
