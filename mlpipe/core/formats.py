"""How every page and terminal table of the package writes a number: the report (`mlpipe
report`), the model card (`model_card.html`, `mlpipe card`) and their charts. "n/a" for what is
not a finite number (None, NaN, a bool)."""

import math
from typing import Optional, Tuple

NOT_A_NUMBER = "n/a"


def finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(value) -> str:
    """A metric's value: 4 decimals, or a whole number above 1 with thousands separators."""
    if not finite(value):
        return NOT_A_NUMBER
    return f"{value:,.0f}" if value == int(value) and abs(value) > 1 else f"{value:.4f}"


def signed(value) -> str:
    """A change, a gap or a margin: 4 decimals with its sign."""
    return f"{value:+.4f}" if finite(value) else NOT_A_NUMBER


def count(value) -> str:
    """Examples, rows: a whole number with thousands separators."""
    return f"{value:,.0f}" if finite(value) else NOT_A_NUMBER


def percent(value) -> str:
    return f"{value:.1%}" if finite(value) else NOT_A_NUMBER


def interval(bounds: Optional[Tuple[float, float]]) -> str:
    """A confidence interval, "[low, high]", or "" without one."""
    return f"[{bounds[0]:.4f}, {bounds[1]:.4f}]" if bounds else ""
