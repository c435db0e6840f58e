"""Buying stages: where an account is in its purchase, from its in-market probability and behaviour.

Pure and vectorised: arrays in, arrays out, no database. Levels are 0 target, 1 awareness,
2 consideration, 3 decision, 4 purchase.

* **Evidence.** The probability says a level (the highest stage whose entry threshold it reaches);
  behaviour in the last 30 days says one too: any engagement or intent → awareness; two or more
  research-page visits (pricing, comparisons, case studies …) with two or more people engaged →
  consideration; a demo request,
  trial or meeting → decision; an open opportunity → purchase. The account's evidence is the higher.
* **Hysteresis.** An account leaves its stage downwards only when its evidence, with the probability
  raised by ``hysteresis``, no longer reaches the stage: a probability hovering at a threshold does
  not flap.
* **Minimum time in stage.** No move before ``min_days`` in the current stage — except into purchase
  when an opportunity opens, which is a fact rather than a prediction.
* Accounts scored for the first time take their evidence level at once.
"""

from dataclasses import dataclass

import numpy as np

from scoring.engine.words import plural

STAGES = ("target", "awareness", "consideration", "decision", "purchase")
LEVEL = {name: level for level, name in enumerate(STAGES)}
BEHAVIOUR_WORDS = {
    1: "engagement or intent in the last 30 days",
    2: "{research} (pricing, comparisons, case studies) and {people} engaged in 30 days",
    3: "a demo request, trial or meeting in the last 30 days",
    4: "an opportunity is open",
}


@dataclass(frozen=True)
class StagePolicy:
    awareness_min: float
    consideration_min: float
    decision_min: float
    purchase_min: float
    hysteresis: float
    min_days: int

    @classmethod
    def of(cls, policy) -> "StagePolicy":
        """From a ``QualificationPolicy`` row."""
        return cls(
            awareness_min=policy.awareness_min,
            consideration_min=policy.consideration_min,
            decision_min=policy.decision_min,
            purchase_min=policy.purchase_min,
            hysteresis=policy.hysteresis,
            min_days=policy.min_days_in_stage,
        )

    @property
    def thresholds(self) -> np.ndarray:
        return np.array([self.awareness_min, self.consideration_min, self.decision_min, self.purchase_min])


def probability_level(policy: StagePolicy, p: np.ndarray, *, shift: float = 0.0) -> np.ndarray:
    """The highest stage whose entry threshold ``p + shift`` reaches (0 when none)."""
    return (np.asarray(p, dtype=float)[:, None] + shift >= policy.thresholds[None, :]).sum(axis=1)


def behaviour_level(
    *, activity_30d, research_30d, engaged_people_30d, high_intent_30d, open_opportunity
) -> np.ndarray:  # fmt: skip
    level = np.where(np.asarray(activity_30d) > 0, 1, 0)
    level = np.where((np.asarray(research_30d) >= 2) & (np.asarray(engaged_people_30d) >= 2), 2, level)
    level = np.where(np.asarray(high_intent_30d) > 0, 3, level)
    return np.where(np.asarray(open_opportunity, dtype=bool), 4, level)


def decide(
    policy: StagePolicy,
    *,
    current: np.ndarray,
    days_in_stage: np.ndarray,
    p: np.ndarray,
    activity_30d: np.ndarray,
    research_30d: np.ndarray,
    engaged_people_30d: np.ndarray,
    high_intent_30d: np.ndarray,
    open_opportunity: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``(stage, reason)`` per account: the new stage name, and why it moved ("" when it stays)."""
    current = np.asarray(current, dtype=object)
    n = len(current)
    p = np.asarray(p, dtype=float)
    known = current != ""
    now = np.array([LEVEL.get(s, 0) for s in current.tolist()], dtype=np.int64)
    behaviour = behaviour_level(
        activity_30d=activity_30d, research_30d=research_30d, engaged_people_30d=engaged_people_30d,
        high_intent_30d=high_intent_30d, open_opportunity=open_opportunity,
    )  # fmt: skip
    by_p = probability_level(policy, p)
    up = np.maximum(by_p, behaviour)
    stay = np.maximum(probability_level(policy, p, shift=policy.hysteresis), behaviour)
    opened = np.asarray(open_opportunity, dtype=bool) & (now < 4)
    settled = np.asarray(days_in_stage, dtype=float) >= policy.min_days

    level = now.copy()
    level = np.where(known & settled & (up > now), up, level)
    level = np.where(known & settled & (stay < now), stay, level)
    level = np.where(known & opened, 4, level)
    level = np.where(known, level, up)

    stage = np.array(STAGES, dtype=object)[level]
    reason = np.full(n, "", dtype=object)
    moved = np.flatnonzero(~known | (level != now))
    research, people = np.asarray(research_30d), np.asarray(engaged_people_30d)
    for i in moved.tolist():
        evidence = {
            "research": plural(int(research[i]), "research-page visit"),
            "people": plural(int(people[i]), "person", "people"),
        }
        reason[i] = _reason(policy, int(now[i]) if known[i] else None, int(level[i]), float(p[i]),
                            int(by_p[i]), int(behaviour[i]), evidence)  # fmt: skip
    return stage, reason


def _reason(
    policy: StagePolicy, old: int | None, new: int, p: float, by_p: int, behaviour: int, evidence: dict
) -> str:
    shown = f"in market {p:.0%}"
    if new == 0 and old is None:
        return f"{shown}, below the awareness threshold ({policy.awareness_min:.0%}), and no recent activity"
    if old is None or new > old:
        parts = []
        if by_p >= new and new > 0:
            parts.append(f"{shown} ≥ the {STAGES[new]} threshold ({policy.thresholds[new - 1]:.0%})")
        if behaviour >= new and new > 0:
            parts.append(BEHAVIOUR_WORDS[new].format(**evidence))
        prefix = "first scored: " if old is None else ""
        return prefix + "; ".join(parts)
    # regressed
    entry = policy.thresholds[old - 1]
    text = "the opportunity is no longer open; " if old == 4 else ""
    text += (
        f"{shown} fell below the {STAGES[old]} threshold ({entry:.0%}) "
        f"less {policy.hysteresis:.0%} hysteresis"
    )
    if new > 0:
        text += f"; still {STAGES[new]}: " + (
            BEHAVIOUR_WORDS[behaviour].format(**evidence) if behaviour >= new else
            f"{shown} ≥ {policy.thresholds[new - 1]:.0%}"
        )  # fmt: skip
    else:
        text += "; no recent activity"
    return text
