"""The workflow engine: templates compiled to checkpointed LangGraph graphs.

Start a run with :meth:`Engine.start` (or :meth:`Engine.submit`), answer an
approval with :meth:`Engine.approve`, stop one with :meth:`Engine.cancel`, and
after a restart call :meth:`Engine.resume_all`. Progress reaches the caller
through a :class:`ProgressSink`. The engine knows neither HTTP nor kopf and
gets its actions from the :class:`~suture.actions.Registry` it is given.

LangGraph's graph runtime (``langgraph.graph``, ``.types``, ``.errors``: about
30 MB with the LangChain pieces they pull) is imported on first use, inside
the functions that run a graph: an idle operator, or one whose runs all wait,
only reads checkpoints (``langgraph.checkpoint``). So nothing here re-exports
:mod:`suture.engine.graph`.
"""

from suture.engine.checkpoint import open_checkpointer
from suture.engine.conditions import PromQLClient, check_promql
from suture.engine.effects import Effects, LiveEffects, Look, Pause, Verdict, Watch
from suture.engine.limiter import FifoLimiter
from suture.engine.progress import ApprovalDecision, NullSink, ProgressSink, RecordingSink, StepProgress
from suture.engine.retry import backoff_delays
from suture.engine.rollout import wave_sizes
from suture.engine.runner import Engine, PendingApproval, RunOutcome, RunRequest, initial_state
from suture.engine.scope import RunDeps, TemplateSource
from suture.engine.state import now_iso
from suture.errors import ApprovalNotPending

__all__ = [
    "ApprovalDecision",
    "ApprovalNotPending",
    "Effects",
    "Engine",
    "FifoLimiter",
    "LiveEffects",
    "Look",
    "NullSink",
    "Pause",
    "PendingApproval",
    "ProgressSink",
    "PromQLClient",
    "RecordingSink",
    "RunDeps",
    "RunOutcome",
    "RunRequest",
    "StepProgress",
    "TemplateSource",
    "Verdict",
    "Watch",
    "backoff_delays",
    "check_promql",
    "initial_state",
    "now_iso",
    "open_checkpointer",
    "wave_sizes",
]
