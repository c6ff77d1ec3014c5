"""kopf wiring. Each handler is a few lines that call plain, tested functions.

Run with ``suture run`` (or ``kopf run -m suture.handlers``).
"""

from __future__ import annotations

from typing import Any

import kopf

from suture.actions import Registry, load_registry
from suture.api import GROUP, VERSION
from suture.config import load_settings
from suture.validation.condition import template_status_patch

_registry: Registry | None = None


def registry() -> Registry:
    """The action registry, loaded once per process."""
    global _registry
    if _registry is None:
        _registry = load_registry()
    return _registry


@kopf.on.login()
def login(logger: kopf.Logger, **kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account first, then $KUBECONFIG; no client library involved."""
    return kopf.login_with_service_account(logger=logger, **kwargs) or kopf.login_with_kubeconfig(
        logger=logger, **kwargs
    )


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Keep kopf's bookkeeping in annotations: our status schema is structural and would prune it."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="suture.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="suture.dev")
    settings.posting.level = 20  # INFO and above become Kubernetes Events
    ours = load_settings()
    settings.peering.standalone = not ours.peering
    if ours.peering:
        settings.peering.name = ours.peering
    registry()  # fail at start-up, not at the first template, when a pack is broken


@kopf.on.resume(GROUP, VERSION, "workflowtemplates")
@kopf.on.create(GROUP, VERSION, "workflowtemplates")
@kopf.on.update(GROUP, VERSION, "workflowtemplates", field="spec")
@kopf.on.resume(GROUP, VERSION, "clusterworkflowtemplates")
@kopf.on.create(GROUP, VERSION, "clusterworkflowtemplates")
@kopf.on.update(GROUP, VERSION, "clusterworkflowtemplates", field="spec")
def validate_template(body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, **_: Any) -> None:
    """Set the template's Valid condition from the same checks as ``suture validate``."""
    status = template_status_patch(dict(body), registry=registry())
    patch.status.update(status)
    valid = status["conditions"][-1]
    if valid["status"] == "False":
        logger.warning("template is invalid: %s", valid["message"])
