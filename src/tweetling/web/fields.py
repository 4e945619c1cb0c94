"""Checks of what the page's fields send. Gradio keeps most values to their field's type, but its
API takes anything: a number may come as NaN, infinity, a string or a list, and a text as a number."""

from __future__ import annotations

import math
from typing import Any

from ..errors import TweetlingError


def whole_number(value: Any, label: str, low: int, high: int, *, hint: str = "", empty: int | None = None) -> int:
    """VALUE as an int in [LOW, HIGH], EMPTY for an empty field where the field may be left empty;
    else an error naming the field LABEL."""
    value = _filled(value, empty)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or int(value) != value
        or not low <= value <= high
    ):
        raise TweetlingError(f"“{label}” must be a whole number from {low:,} to {high:,}{hint}")
    return int(value)


def number(value: Any, label: str, low: float, high: float, *, hint: str = "", empty: float | None = None) -> float:
    """VALUE as a float in [LOW, HIGH), EMPTY for an empty field where the field may be left empty;
    else an error naming the field LABEL."""
    value = _filled(value, empty)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high:  # NaN fails too
        raise TweetlingError(f"“{label}” must be a number from {low:g} up to {high:g}{hint}")
    return float(value)


def _filled(value: Any, empty: float | None) -> Any:
    """VALUE, or EMPTY when the field was left empty (None or ""); an empty field without a
    default stays None, which the checks refuse."""
    return empty if value is None or value == "" else value


def text(value: Any) -> str:
    """A text field's value without the spaces around it ("" for anything that is not text)."""
    return value.strip() if isinstance(value, str) else ""
