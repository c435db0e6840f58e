"""How far a training run or a backtest has got, in fine steps: one fraction that moves evenly, written at
most once a second, and an estimate of the time left.

A run is a sequence of phases (``TRAIN_PHASES``: the snapshots' features, the backtest folds, the
feature-group refits, the final fit, the look-alike models); each phase weighs its measured share of a
run's time, and reports its own steps (a snapshot date, a model family fitted in a fold, a refit) with
``advance``. Beginning a phase completes the ones before it, so a phase that did not happen (no ablation,
a look-alike with no data) never holds the bar back.

The weights are the shares measured at 100,000 accounts (docs/benchmarks.md, "where a training run's time
goes"; measured again on 2026-12-07, sixth session, after the feature-group refits and the look-alikes'
folds went two at a time): the backtest's folds a little under half, the features a fifth, the
feature-group refits an eighth, the final fit and the look-alikes the rest. They were not measured
again on small worlds (the demo's 2,000 accounts), where the shares may differ and the bar move less
evenly.

``Progress`` is also a plain ``progress(message)`` callable, which is what the functions it is passed to
call for their coarse messages (the lines ``manage.py train`` prints; the train bench times its stages by
them): those go on to ``say`` unchanged, while the fine steps only move the fraction and the job's message.
Pure Python: no Django, so the engine-level tests drive it with a fake clock.
"""

import time
from collections.abc import Callable

# Share of a whole training run's time per phase (they need not add up to 100: normalised over the phases
# a run plans).
PHASE_WEIGHTS = {
    "features": 19.0,
    "backtest": 47.0,
    "ablation": 12.0,
    "final_fit": 8.0,
    "account_fit": 7.0,
    "persona_fit": 7.0,
}
TRAIN_PHASES = tuple(PHASE_WEIGHTS)
BACKTEST_PHASES = ("features", "backtest", "ablation")
# Within one backtest fold, what each step costs (shares of the fold): the model families' fits in the order
# the backtest makes them, then scoring the test date (the rules baseline's scores as of it are mostly ready:
# on PostgreSQL another process computes them while the features are built).
FOLD_STEPS = (
    ("xgboost", "XGBoost", 0.30),
    ("logistic_regression", "logistic regression", 0.31),
    ("naive_bayes", "naive Bayes", 0.05),
    ("plain_xgboost", "plain XGBoost", 0.05),
    ("observable_ceiling", "the observable ceiling", 0.20),
    ("scoring", "scoring the test date and the rules baseline", 0.09),
)
# A job stores its progress as an integer out of this many (the ``JobRun`` fields): fine enough for a bar
# that moves every second.
STEPS = 1000
WRITE_EVERY_SECONDS = 1.0
# No estimate before this share of the run is done, nor before this many seconds: the first steps (reading
# the data) say little about the rest.
ESTIMATE_FROM_FRACTION = 0.05
ESTIMATE_FROM_SECONDS = 10.0


class Progress:
    """A run's progress over ``phases``; ``report(fraction, message)`` hears it (at most every ``every``
    seconds, and at once at a phase's start and at the end), ``say(message)`` the coarse messages."""

    def __init__(
        self,
        *,
        phases: tuple[str, ...] = TRAIN_PHASES,
        report: Callable[[float, str], None] | None = None,
        say: Callable[[str], None] | None = None,
        every: float = WRITE_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        weights: dict[str, float] | None = None,
    ):
        weights = weights or PHASE_WEIGHTS
        total = sum(weights.get(p, 0.0) for p in phases) or 1.0
        self.phases = tuple(phases)
        self.shares = {p: weights.get(p, 0.0) / total for p in phases}
        self.report, self.say = report, say
        self.every, self.clock = every, clock
        self.prefix = ""
        self.phase: str | None = None
        self.within = 0.0  # the share of the current phase done
        self.message = ""
        self.shown = 0.0  # the fraction last computed (never goes back)
        self.written_at: float | None = None
        self.pending = False

    # --- what the work calls -----------------------------------------------------------------------------
    def __call__(self, message: str) -> None:
        """A coarse message: passed on as it is, and written at once."""
        if self.say is not None:
            self.say(f"{self.prefix}{message}")
        self.message = message
        self._write(force=True)

    def begin(self, phase: str, message: str = "") -> None:
        """Start ``phase`` (every phase before it is done); a phase this run did not plan is ignored."""
        if phase not in self.shares:
            return
        self.phase, self.within = phase, 0.0
        if message:
            self.message = message
        self._write(force=True)

    def advance(self, done: float, total: float, message: str = "") -> None:
        """``done`` of the current phase's ``total`` steps are done; ``message`` says what comes next."""
        if self.phase is None or total <= 0:
            return
        self.within = max(self.within, min(1.0, done / total))
        if message:
            self.message = message
        self._write()

    def finish(self, message: str = "") -> None:
        """Everything is done."""
        self.phase, self.within = None, 1.0
        self.shown = 1.0
        if message:
            self.message = message
        self._write(force=True)

    # --- what it reports ---------------------------------------------------------------------------------
    @property
    def fraction(self) -> float:
        if self.phase is None:
            return self.shown
        before = sum(self.shares[p] for p in self.phases[: self.phases.index(self.phase)])
        self.shown = max(self.shown, min(1.0, before + self.shares[self.phase] * self.within))
        return self.shown

    def _write(self, *, force: bool = False) -> None:
        fraction = self.fraction
        if self.report is None:
            return
        now = self.clock()
        if not force and self.written_at is not None and now - self.written_at < self.every:
            self.pending = True  # shown with the next write: at most a second's steps behind
            return
        self.written_at, self.pending = now, False
        self.report(fraction, f"{self.prefix}{self.message}")


def as_progress(progress) -> Progress:
    """``progress`` itself if it is a ``Progress``; else one that passes coarse messages on to the plain
    ``progress(message)`` callable (or to nothing) and keeps the fine steps to itself."""
    if isinstance(progress, Progress):
        return progress
    return Progress(say=progress)


def remaining_seconds(*, elapsed: float, fraction: float) -> float | None:
    """The time left at the pace so far, or None while the run is too young for it to mean anything."""
    if fraction < ESTIMATE_FROM_FRACTION or elapsed < ESTIMATE_FROM_SECONDS or fraction >= 1.0:
        return None
    return elapsed * (1.0 - fraction) / fraction


def remaining_words(*, elapsed: float, fraction: float) -> str:
    """ "about 7 min left", "less than a minute left", "about 1 h 20 min left" — or "" when unknown."""
    seconds = remaining_seconds(elapsed=elapsed, fraction=fraction)
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    minutes = max(1, round(seconds / 60))
    if minutes < 90:
        return f"about {minutes} min left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min left" if minutes else f"about {hours} h left"
