"""Running Remediations: from a Remediation object to an engine run and back to its status.

The kopf handlers call :class:`RemediationService`; everything here is plain
async code over :class:`~suture.kube.KubeClient` and the engine.
"""

from suture.runs.events import post_event
from suture.runs.learning import INEFFECTIVE_PHASES, Learner, alert_of, template_version_of
from suture.runs.request import RunRefused, build_run_request, load_template
from suture.runs.service import RemediationService
from suture.runs.sink import VERIFYING, KubeStatusSink
from suture.runs.templates import KubeTemplateSource

__all__ = [
    "INEFFECTIVE_PHASES",
    "VERIFYING",
    "KubeStatusSink",
    "KubeTemplateSource",
    "Learner",
    "RemediationService",
    "RunRefused",
    "alert_of",
    "build_run_request",
    "load_template",
    "post_event",
    "template_version_of",
]
