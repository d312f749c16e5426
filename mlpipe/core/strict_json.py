"""JSON that every reader accepts: NaN and infinities (an AUC on one-class labels) become null."""

import json
import math
from typing import Any


def strict(value: Any) -> Any:
    """`value` with every non-finite float inside it replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(item) for item in value]
    return value


def dumps(value: Any, **options) -> str:
    """json.dumps of `strict(value)`; refuses a NaN that would still slip through."""
    return json.dumps(strict(value), allow_nan=False, **options)
