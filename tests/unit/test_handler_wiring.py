"""kopf's handlers that run once per watched event are coroutines: a sync one costs a thread hop each time."""

from __future__ import annotations

import inspect

import kopf

import suture.handlers  # noqa: F401  (registers the handlers with kopf's default registry)


def test_every_per_event_handler_is_a_coroutine() -> None:
    registry = kopf.get_default_registry()
    handlers = [
        *registry._watching.get_all_handlers(),  # on.event
        *registry._changing.get_all_handlers(),  # on.create/update/resume/delete/field
        *registry._spawning.get_all_handlers(),  # timers
        *registry._indexing.get_all_handlers(),  # kopf.index
    ]
    names = {h.fn.__name__ for h in handlers}
    assert {"follow_remediation", "validate_template", "verify_remediation", "template_index"} <= names
    assert sorted(h.fn.__name__ for h in handlers if not inspect.iscoroutinefunction(h.fn)) == []
