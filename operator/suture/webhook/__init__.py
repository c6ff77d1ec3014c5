"""The Alertmanager receiver: authenticated, validated, deduplicated, never losing an alert it answered 2xx.

Public surface; the modules behind it are private to this box.
"""

from suture.webhook.app import WEBHOOK_PATH, Readiness, build_app
from suture.webhook.auth import (
    Authenticator,
    CredentialError,
    CredentialFile,
    authenticator_from_files,
    require_authenticator,
)
from suture.webhook.catalog import (
    IndexCatalog,
    IndexedTemplate,
    StaticCatalog,
    TemplateCatalog,
    candidates,
    index_entry,
)
from suture.webhook.intake import Intake, RetryLater, Summary
from suture.webhook.livecontext import ContextReader
from suture.webhook.naming import remediation_name
from suture.webhook.pause import PAUSE_CONFIGMAP, read_pause, set_pause
from suture.webhook.ranking import ByNameRanker, FallbackRanker, PriorityRanker, Ranked, Ranker
from suture.webhook.readiness import ReceiverReadiness, wait_until_indexed
from suture.webhook.server import serve, tls_context

__all__ = [
    "PAUSE_CONFIGMAP",
    "WEBHOOK_PATH",
    "Authenticator",
    "ByNameRanker",
    "ContextReader",
    "CredentialError",
    "CredentialFile",
    "FallbackRanker",
    "IndexCatalog",
    "IndexedTemplate",
    "Intake",
    "PriorityRanker",
    "Ranked",
    "Ranker",
    "Readiness",
    "ReceiverReadiness",
    "RetryLater",
    "StaticCatalog",
    "Summary",
    "TemplateCatalog",
    "authenticator_from_files",
    "build_app",
    "candidates",
    "index_entry",
    "read_pause",
    "remediation_name",
    "require_authenticator",
    "serve",
    "set_pause",
    "tls_context",
    "wait_until_indexed",
]
