"""Kubernetes resource quantities ("500m", "1.5Gi", "2e3"): exact parsing, rounding and formatting.

Values are :class:`fractions.Fraction` so that arithmetic such as "1.5 times
256Mi" is exact and comparisons never suffer from float rounding.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exponent>[+-]?[0-9]+))?"
)
# The API server keeps quantities to nanounits and rounds finer values up.
_NANO = Fraction(1, 10**9)


def parse_quantity(text: str) -> Fraction:
    """The exact value of a quantity such as ``500m``, ``1.5Gi`` or ``2e3``.

    Raises ValueError naming the text when it is not a quantity.
    """
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (examples: 500m, 2, 256Mi, 1.5Gi)")
    value = Fraction(match["number"])
    if match["exponent"] is not None:
        return value * Fraction(10) ** int(match["exponent"])
    suffix = match["suffix"] or ""
    return value * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


def is_binary(text: str) -> bool:
    """True when the quantity is written with a power-of-two suffix (Ki, Mi, Gi, ...)."""
    match = _QUANTITY.fullmatch(text)
    return match is not None and (match["suffix"] or "") in _BINARY


def round_up(value: Fraction, step: Fraction) -> Fraction:
    """The smallest multiple of ``step`` that is not below ``value``."""
    if step <= 0:
        raise ValueError(f"step must be positive, not {step}")
    return math.ceil(value / step) * step


def format_quantity(value: Fraction, *, binary: bool = False) -> str:
    """Render a value as the API server would: the largest suffix that keeps the number whole.

    With ``binary`` a whole number that is a multiple of 1024 gets a Ki/Mi/Gi/...
    suffix; anything else uses decimal suffixes (``1500m``, ``2``, ``3k``). Values
    finer than a nanounit are rounded up, as the API server does.
    """
    if value < 0:
        return "-" + format_quantity(-value, binary=binary)
    if value == 0:
        return "0"
    if binary and value.denominator == 1:
        for suffix, power in reversed(_BINARY.items()):
            if value % power == 0:
                return f"{value // power}{suffix}"
    value = round_up(value, _NANO)
    for suffix, base in reversed(_DECIMAL.items()):
        scaled = value / base
        if scaled.denominator == 1:
            return f"{scaled.numerator}{suffix}"
    raise AssertionError(f"unreachable: {value} is a whole number of nanounits")
