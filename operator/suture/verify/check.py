"""The template's optional ``verify.promql`` check, as verification asks it.

The evaluation itself is the engine's (:func:`suture.engine.check_promql`, the
one a ``condition`` step or a health gate uses): the same query grammar, the
same ``$matchers`` rendering with values escaped, the same comparison, the
same ``for``. What this module adds is what verification needs to know
besides "holds or not": whether asking again can change the answer.

- Holds: the run is Effective (with the alert resolved in the window).
- Does not hold: asked again at each look until the window ends (a metric
  often lags the alert), then Ineffective.
- Cannot be asked now (Prometheus unreachable, a 5xx): asked again until the
  window ends, then Unknown, never Ineffective.
- Can never be asked (no Prometheus configured, a query Prometheus refuses, a
  matcher lookup that fails): Unknown at once, saying why.

The check sees ``alert`` (labels, annotations, fingerprint) and ``target``
(the run's resolved target, ``target.metadata.name``/``namespace``, as steps
see it); alert labels reach the query only as escaped matcher values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from suture.api import PromQLCheck
from suture.engine import PromQLClient, check_promql
from suture.errors import SutureError, TransientError

NO_PROMETHEUS = "no Prometheus is configured (SUTURE_PROMETHEUS_URL), so the template's verify.promql cannot be asked"


@dataclass(frozen=True)
class CheckAnswer:
    """What the check said: ``holds`` True/False, or None when it could not be evaluated."""

    holds: bool | None
    detail: str
    final: bool  # True when asking again cannot change the answer (no Prometheus, an invalid query)


def check_context(body: Mapping[str, Any], alert: Mapping[str, Any]) -> dict[str, Any]:
    """The lookup context of a Remediation's verify check: its alert, and its target shaped as an object."""
    ref = (body.get("status") or {}).get("target") or {}
    target: dict[str, Any] = {}
    if ref:
        target = {
            "apiVersion": ref.get("apiVersion", ""),
            "kind": ref.get("kind", ""),
            "metadata": {k: ref[k] for k in ("namespace", "name") if ref.get(k)},
        }
    return {"alert": dict(alert), "target": target}


async def ask(
    check: PromQLCheck,
    *,
    promql: PromQLClient | None,
    context: Mapping[str, Any],
    sleep: Callable[[float], Awaitable[None]],
    interval: float,
) -> CheckAnswer:
    """Evaluate ``check`` once (polling through its ``for``); never raises for Prometheus or template problems."""
    if promql is None:
        return CheckAnswer(None, NO_PROMETHEUS, final=True)
    try:
        holds, detail = await check_promql(check, promql=promql, sleep=sleep, interval=interval, context=context)
    except TransientError as exc:
        return CheckAnswer(None, f"Prometheus could not be asked: {exc}", final=False)
    except SutureError as exc:  # InvalidQuery, a failed matcher lookup: the template's problem, not the run's
        return CheckAnswer(None, f"the verify.promql check cannot be evaluated: {exc}", final=True)
    return CheckAnswer(holds, detail, final=False)
