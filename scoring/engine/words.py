"""Counts, numbers and model effects as people read them, for every explanation (pure: no Django).

* ``plural`` — "1 intent signal", "2 intent signals".
* ``number`` / ``compared`` — figures rounded for people ("engagement 21.4 ≥ 20", never "21.4421"), with
  as many decimals as it takes to keep a comparison true ("19.96 < 20", not "20 < 20").
* ``probability_points`` — what a model contribution does to the probability. A contribution ``c`` (log
  odds, XGBoost's SHAP value) of an account whose predicted log-odds are ``L`` moves its probability from
  ``p(L − c)`` (everything else held, that contribution left out) to ``p(L)``: the difference, in
  percentage points. The same ``c`` is worth more points near 50% than near 1% — which is what a
  salesperson reading "+12 pts" wants to know.
* ``points_text`` and ``strength`` — those points as "+12 pts" ("<1 pt" under half a point) and as a
  word, by the thresholds below.
* ``lifecycle_reason`` — an automatic lifecycle move's stored reason, as written before it was worded
  for people ("engagement 21.4421 ≥ 20", "demo request on 2026-11-02"), in today's words.
"""

import datetime
import math
import re
from collections.abc import Mapping

# Strength words by the size of the effect in percentage points: 10 or more is "strong", 3 or more
# "moderate", anything less "slight". Points, not log-odds, so that the word agrees with the number shown
# next to it; the thresholds are where a sales reader's "a lot / some / barely" fall on a 0–100 scale.
STRONG_POINTS = 10.0
MODERATE_POINTS = 3.0
TINY_POINTS = 0.5  # under this, "<1 pt": "0 pts" would read as "no effect"; points round half up
# Probabilities are clipped this far from 0 and 1 before taking log-odds: a stored 0.0 or 1.0 (rounded)
# has no finite log-odds.
EDGE = 1e-6


def plural(count: float, singular: str, plural_form: str | None = None, *, shown: str | None = None) -> str:
    """``count`` and the noun in the right number: "1 intent signal", "2 intent signals", "1.5 days".
    ``plural_form`` for irregular nouns (person → people); ``shown``: the count as already formatted."""
    text = shown if shown is not None else number(count)
    # by what the reader sees: 1.0 and 1.0000001 both read "1"
    return f"{text} {singular if text == '1' else (plural_form or singular + 's')}"


def number(value: float, digits: int = 1) -> str:
    """A figure for people: whole numbers without decimals, others to ``digits`` decimals (trailing
    zeros dropped), thousands separated; "unknown" for a missing or non-finite value."""
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "unknown"
    text = f"{float(value):,.{max(digits, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def compared(value: float, threshold: float) -> tuple[str, str]:
    """``value`` and ``threshold`` rounded for people, with enough decimals (up to four) that they read
    as different when they are: 21.4421 against 20 → ("21.4", "20"); 19.96 against 20 → ("19.96", "20")."""
    for digits in range(1, 5):
        shown, limit = number(value, digits), number(threshold, digits)
        if (shown != limit) or value == threshold:
            return shown, limit
    return number(value, 4), number(threshold, 4)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def log_odds(probability: float) -> float:
    """The log-odds of ``probability``, clipped to [EDGE, 1 − EDGE]."""
    p = min(max(float(probability), EDGE), 1.0 - EDGE)
    return math.log(p / (1.0 - p))


def probability_points(probability: float, contribution: float) -> float:
    """Percentage points the contribution adds to (or takes from) the account's probability:
    ``100 × (p(L) − p(L − c))`` with ``L`` the log-odds of ``probability``. Same sign as ``contribution``,
    within [−100, 100]; 0 for a missing or non-finite input."""
    try:
        p, c = float(probability), float(contribution)
    except (TypeError, ValueError):
        return 0.0
    if not (math.isfinite(p) and math.isfinite(c)) or c == 0.0:
        return 0.0
    logit = log_odds(p)
    if abs(c) < 50:
        # p(L) − p(L − c) = (e^c − 1) · p(L − c) · (1 − p(L)): no cancellation for a small c
        points = 100.0 * math.expm1(c) * _sigmoid(logit - c) * _sigmoid(-logit)
    else:
        points = 100.0 * (_sigmoid(logit) - _sigmoid(logit - c))
    if points == 0.0:  # a difference lost to floating point: keep the sign the contribution has
        return math.copysign(5e-324, c)
    return max(-100.0, min(100.0, points))


def whole_points(points: float) -> int:
    """The size of ``points`` rounded half up to a whole point, as shown (0 for a non-finite value)."""
    return int(math.floor(abs(points) + TINY_POINTS)) if math.isfinite(points) else 0


def points_text(points: float) -> str:
    """ "+12 pts", "-3 pts", "+1 pt"; "<1 pt" when the effect rounds to less than a point."""
    whole = whole_points(points)
    if whole == 0:
        return "<1 pt"
    return f"{'+' if points > 0 else '-'}{whole} pt{'s' if whole != 1 else ''}"


def strength(points: float) -> str:
    """ "strong raise", "moderate lower", "slight raise" … by STRONG_POINTS and MODERATE_POINTS, judged on
    the points as shown (2.6 reads "+3 pts": moderate), so that the word never disagrees with the number
    beside it; "no effect" for zero."""
    if not math.isfinite(points) or points == 0.0:
        return "no effect"
    size = whole_points(points)
    word = "strong" if size >= STRONG_POINTS else "moderate" if size >= MODERATE_POINTS else "slight"
    return f"{word} {'raise' if points > 0 else 'lower'}"


def day(value: datetime.date) -> str:
    """A day as people write it: "2 Nov 2026"."""
    return f"{value.day} {value:%b %Y}"


def event_label(code: str, labels: Mapping[str, str] | None = None) -> str:
    """An event type's label ("demo_request" → "Demo request"), from ``labels`` or the code itself."""
    code = str(code or "")
    return str((labels or {}).get(code) or code.replace("_", " ").strip().capitalize())


_COMPARISON = re.compile(r"(?P<what>[a-z]+) (?P<value>-?[\d.]+) (?P<op>[≥<]) (?P<limit>-?[\d.]+)")
_FAST_TRACK = re.compile(r"^(?P<what>.+?) on (?P<day>\d{4}-\d{2}-\d{2})$")


def lifecycle_reason(rule: str, reason: str, labels: Mapping[str, str] | None = None) -> str:
    """An automatic move's stored ``reason`` in people's words: comparisons rounded
    ("engagement 21.4421 ≥ 20" → "engagement 21.4 ≥ 20"), the fast-track action by its label and the
    day written out ("demo request on 2026-11-02" → "Demo request on 2 Nov 2026"). A reason a person
    wrote (no ``rule``) or one already worded is returned as it is."""
    text = str(reason or "")
    if not rule:
        return text
    if rule == "fast-track":
        match = _FAST_TRACK.match(text)
        if match:
            try:
                when = datetime.date.fromisoformat(match["day"])
            except ValueError:
                return text
            code = match["what"].strip().lower().replace(" ", "_")
            return f"{event_label(code, labels)} on {day(when)}"
        return text

    def rounded(match: re.Match) -> str:
        try:
            value, limit = float(match["value"]), float(match["limit"])
        except ValueError:
            return match[0]
        shown, threshold = compared(value, limit)
        return f"{match['what']} {shown} {match['op']} {threshold}"

    return _COMPARISON.sub(rounded, text)
