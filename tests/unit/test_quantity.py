"""Kubernetes quantities parse exactly, format the way the API server writes them, and round up."""

from __future__ import annotations

from fractions import Fraction

import pytest

from suture_actions.quantity import format_quantity, is_binary, parse_quantity, round_up


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", Fraction(0)),
        ("2", Fraction(2)),
        ("500m", Fraction(1, 2)),
        ("1.5", Fraction(3, 2)),
        ("0.1", Fraction(1, 10)),
        (".5", Fraction(1, 2)),
        ("1.", Fraction(1)),
        ("100n", Fraction(1, 10**7)),
        ("250u", Fraction(1, 4000)),
        ("3k", Fraction(3000)),
        ("2M", Fraction(2 * 10**6)),
        ("1G", Fraction(10**9)),
        ("1T", Fraction(10**12)),
        ("1P", Fraction(10**15)),
        ("1E", Fraction(10**18)),
        ("1Ki", Fraction(1024)),
        ("256Mi", Fraction(256 * 2**20)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("1Ti", Fraction(2**40)),
        ("1Pi", Fraction(2**50)),
        ("1Ei", Fraction(2**60)),
        ("2e3", Fraction(2000)),
        ("12E-3", Fraction(12, 1000)),
        ("1e+2", Fraction(100)),
        ("+5", Fraction(5)),
        ("-5m", Fraction(-1, 200)),
    ],
)
def test_parse(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Mi", "1.5.5", "1 Mi", "1mi", "1KiB", "abc", "1e", "1Ki2", "--1", "0x10"])
def test_parse_rejects_what_is_not_a_quantity(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


def test_is_binary() -> None:
    assert is_binary("512Mi")
    assert is_binary("1.5Gi")
    assert not is_binary("512M")
    assert not is_binary("500m")
    assert not is_binary("1e3")
    assert not is_binary("nonsense")


@pytest.mark.parametrize(
    ("value", "binary", "text"),
    [
        (Fraction(0), False, "0"),
        (Fraction(0), True, "0"),
        (Fraction(1, 2), False, "500m"),
        (Fraction(3, 2), False, "1500m"),
        (Fraction(2), False, "2"),
        (Fraction(1000), False, "1k"),
        (Fraction(1500), False, "1500"),
        (Fraction(10**9), False, "1G"),
        (Fraction(1, 10**9), False, "1n"),
        (Fraction(1, 4000), False, "250u"),
        (Fraction(-1, 200), False, "-5m"),
        (Fraction(384 * 2**20), True, "384Mi"),
        (Fraction(2**30), True, "1Gi"),
        (Fraction(3 * 2**29), True, "1536Mi"),
        (Fraction(1024), True, "1Ki"),
        (Fraction(1023), True, "1023"),
        (Fraction(10**9), True, "1G"),  # not a multiple of 1024: falls back to decimal
        (Fraction(1, 2), True, "500m"),  # not whole: binary suffixes cannot express it
        (Fraction(384 * 2**20), False, "402653184"),
        (Fraction(1, 3), False, "333333334n"),  # finer than a nanounit rounds up
    ],
)
def test_format(value: Fraction, binary: bool, text: str) -> None:
    assert format_quantity(value, binary=binary) == text


@pytest.mark.parametrize(
    "text", ["500m", "2", "1k", "256Mi", "1Gi", "1536Mi", "1n", "333333334n", "123456789", "7Ki", "1E", "1Ei"]
)
def test_round_trip(text: str) -> None:
    assert format_quantity(parse_quantity(text), binary=is_binary(text)) == text


def test_round_up() -> None:
    assert round_up(Fraction(1501, 1000), Fraction(1, 1000)) == Fraction(1501, 1000)
    assert round_up(Fraction(15011, 10000), Fraction(1, 1000)) == Fraction(1502, 1000)
    assert round_up(Fraction(348966092), Fraction(2**20)) == 333 * 2**20
    assert round_up(Fraction(2**20), Fraction(2**20)) == 2**20
    with pytest.raises(ValueError, match="positive"):
        round_up(Fraction(1), Fraction(0))
