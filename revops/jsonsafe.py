"""JSON that every database takes: no NaN, no infinity, no NumPy scalars.

``json.dumps`` writes ``NaN`` and ``Infinity`` by default, which is not JSON: SQLite's ``JSON_VALID``
check and PostgreSQL's ``jsonb`` both refuse it, so one missing value in a report or an explanation
would fail the whole write. Everything stored as JSON from computed numbers goes through ``json_safe``.
"""

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, NumPy scalars and arrays made plain Python,
    tuples made lists (what JSON round-trips to). Strings, ints and bools are kept as they are."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | str | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    tolist = getattr(value, "tolist", None)  # NumPy scalars and arrays
    if tolist is not None:
        return json_safe(tolist())
    return value
