"""What the hashing featurizer turns an alert into."""

from __future__ import annotations

from suture.recommend import Context
from suture.recommend.alerts import AlertView
from suture.recommend.features import HashingFeaturizer


def crashloop(pod: str, extra: str = "") -> AlertView:
    return AlertView.parse(
        {
            "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": pod, "container": "main"},
            "annotations": {"description": f"Pod shop/{pod} (main) is in waiting state. {extra}".strip()},
        }
    )


def test_description_words_that_repeat_a_label_value_are_not_tokens() -> None:
    tokens = HashingFeaturizer().tokens(crashloop("api-7f9c4d8b6-x2k4q", "connection refused"), None)
    words = {t.removeprefix("word:") for t in tokens if t.startswith("word:")}
    # The pod's generated name, its namespace and container are carried by their labels only.
    assert not words & {"api", "x2k4q", "shop", "main"}
    assert {"pod", "waiting", "state", "connection", "refused"} <= words
    assert "label:pod=api-7f9c4d8b6-x2k4q" in tokens
    assert "label:pod~api" in tokens


def test_two_pods_of_one_failure_differ_only_in_their_identity_labels() -> None:
    featurizer = HashingFeaturizer()
    first = set(featurizer.tokens(crashloop("api-7f9c4d8b6-x2k4q", "connection refused"), Context(restarts=4)))
    second = set(featurizer.tokens(crashloop("api-7f9c4d8b6-m8n2p", "connection refused"), Context(restarts=4)))
    assert first ^ second == {"label:pod=api-7f9c4d8b6-x2k4q", "label:pod=api-7f9c4d8b6-m8n2p"}
