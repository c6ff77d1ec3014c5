"""A PromQL check's matchers: alert label values are looked up, then escaped into the selector."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suture.engine import Engine, RunRequest
from suture.prometheus import LabelMatcher, render_matchers, with_matchers
from tests.unit.engine.fakes import FakePromQL, rec, template


async def test_a_promql_check_puts_the_alerts_label_in_as_an_escaped_matcher(
    make_engine: Callable[..., Engine],
) -> None:
    promql = FakePromQL([0.9])
    engine = make_engine(promql=promql)
    check = {
        "promql": {
            "query": "p99{$matchers}",
            "matchers": [{"label": "service", "value": "${{ alert.labels.service }}"}],
            "operator": ">",
            "threshold": 0.5,
        }
    }
    spec = template({"name": "confirm", "condition": {"check": check, "then": "act", "else": "end"}}, rec("act"))
    alert = {"labels": {"service": 'x"} or vector(1) #'}}
    out = await engine.start(request=RunRequest(run_id="pm1", template=spec, alert=alert))
    assert out.phase == "Succeeded"
    assert promql.queries == ['p99{service="x\\"} or vector(1) #"}']


def test_matchers_without_a_place_in_the_query_are_refused() -> None:
    with pytest.raises(ValueError, match=r"no \$matchers"):
        with_matchers("up", [LabelMatcher(label="job", value="api")])


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_characters="\x7f")))
def test_every_value_stays_one_string_literal(value: str) -> None:
    import json

    rendered = render_matchers([LabelMatcher(label="l", op="=~", value=value)])
    assert rendered.startswith('l=~"')
    assert json.loads(rendered.removeprefix("l=~")) == value  # PromQL and JSON agree on \\ \" escapes
