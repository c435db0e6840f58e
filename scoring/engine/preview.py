"""What one matching event earns an engagement rule by its age: the editor's decay preview.

Pure, and the engine's own numbers: each figure is ``rules.engagement_points_scalar`` for one event of that
age (window, half-life and cap as the rescore applies them). ``static/scoring/rule_preview.js`` writes the
same sentence in the browser as the fields change; a browser test holds the two together.
"""

from __future__ import annotations

from scoring.engine.rules import RuleSpec, engagement_points_scalar

PREVIEW_AGES = (0, 7, 30, 90, 180, 365)  # days; the browser's copy is in rule_preview.js
_AS_OF = 100_000  # any day ordinal: only ages matter


def one_event_points(
    *, points: float, ages: tuple[int, ...] | list[int], window_days: int | None = None,
    half_life_days: float | None = None, cap: float | None = None,
) -> list[float]:  # fmt: skip
    """The points one matching event of each age (days) earns the rule, as the engine gives them."""
    rule = RuleSpec(
        id=0, name="", kind="engagement", points=points, window_days=window_days,
        half_life_days=half_life_days, cap=cap,
    )  # fmt: skip
    return [engagement_points_scalar(rule, [(_AS_OF - age, "", "", 1)], (), _AS_OF) for age in ages]


def points_text(value: float) -> str:
    """Two decimals at most, no trailing zeros, never "-0" (``fmt`` in rule_preview.js)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def decay_preview_text(
    *, points: float | None, window_days: int | None = None, half_life_days: float | None = None,
    cap: float | None = None,
) -> str:  # fmt: skip
    """ "One event: today 10 · 7 days ago 8.5 · 30 days ago 5 · 90+ days ago 0" for the rule's settings."""
    if points is None:
        return "Enter the points to see what one event earns by its age."
    if (
        (half_life_days is not None and half_life_days <= 0)
        or (window_days is not None and (window_days < 1 or window_days != int(window_days)))
        or (cap is not None and cap < 0)
    ):
        return "Fix the half-life, window or cap to see what one event earns by its age."
    ages = [age for age in PREVIEW_AGES if window_days is None or age < window_days]
    earned = one_event_points(
        points=points, ages=ages, window_days=window_days, half_life_days=half_life_days, cap=cap
    )
    parts = [
        f"{'today' if age == 0 else f'{age} days ago'} {points_text(value)}"
        for age, value in zip(ages, earned, strict=True)
    ]
    if window_days is not None:
        parts.append(f"{int(window_days)}+ days ago 0")
    text = "One event: " + " · ".join(parts)
    if window_days is None and half_life_days is None:
        text += " — no window and no half-life: however old, an event earns full points"
    return text
