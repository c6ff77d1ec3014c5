"""Operator settings, read from the environment (``SUTURE_*``) with safe defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None else raw.strip().lower() in ("1", "true", "yes", "on")


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

    prometheus_url: str = field(default_factory=lambda: os.environ.get("SUTURE_PROMETHEUS_URL", ""))
    """Prometheus base URL for PromQL conditions and health gates; empty disables them."""

    metrics_port: int = field(default_factory=lambda: int(os.environ.get("SUTURE_METRICS_PORT", "0")))
    """Port of the /metrics endpoint; 0 serves none."""

    peering: str = field(default_factory=lambda: os.environ.get("SUTURE_PEERING", ""))
    """kopf peering name for high availability; empty runs standalone (one replica)."""

    def database_location(self) -> str:
        """The SQL database location, defaulted into the data directory."""
        return self.database or str(self.data_dir / "suture.sqlite")

    def checkpoint_location(self) -> str:
        """The checkpointer location, defaulted into the data directory."""
        return self.checkpoints or str(self.data_dir / "checkpoints.sqlite")


def load_settings() -> Settings:
    """Settings from the current environment."""
    return Settings()
