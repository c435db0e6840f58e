"""A training run's progress in fine steps: each snapshot date's features, each fold's fits, the
feature-group refits, the final fit and the look-alikes, weighted to move evenly, written at most once a
second, always forward, ending at 100 %; and the estimate of the time left."""

import io
import re

import pytest
from django.core.management import call_command

from revops.models import JobRun
from scoring.learned import backtest as B
from scoring.learned.jobs import job_progress, models_train_all
from scoring.learned.progress import (
    BACKTEST_PHASES,
    FOLD_STEPS,
    STEPS,
    TRAIN_PHASES,
    Progress,
    remaining_words,
)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def recording(phases, **kwargs) -> tuple[Progress, list]:
    """A progress that writes every step (no throttle) into the list, with the phase it was in."""
    marks: list = []
    progress = Progress(phases=phases, every=0, **kwargs)
    progress.report = lambda fraction, message: marks.append((fraction, message, progress.phase))
    return progress, marks


def assert_forward_to_the_end(marks) -> None:
    fractions = [f for f, _, _ in marks]
    assert fractions == sorted(fractions), "progress went back"
    assert fractions[-1] == pytest.approx(1.0)


# --- the engine ---------------------------------------------------------------------------------------------
def test_phases_weigh_their_share_and_a_phase_that_did_not_happen_is_passed_over():
    progress, marks = recording(("features", "backtest", "ablation", "final_fit"))
    progress.begin("features")
    progress.advance(1, 2, "features: snapshot date 1 of 2")
    half_features = progress.fraction
    progress.begin("backtest")
    assert progress.fraction == pytest.approx(progress.shares["features"])
    assert half_features == pytest.approx(progress.shares["features"] / 2)
    progress.advance(1, 3)
    progress.begin("final_fit")  # no ablation this run: its share is done with it
    assert progress.fraction == pytest.approx(1 - progress.shares["final_fit"])
    progress.begin("persona_fit")  # not planned: ignored
    progress.advance(5, 3)  # more than all: capped
    progress.advance(0, 3)  # a step back is not shown
    assert progress.fraction == pytest.approx(1.0)
    progress.finish()
    assert_forward_to_the_end(marks)


def test_writes_are_at_most_once_a_second_and_coarse_messages_go_on_at_once():
    clock, said, written = Clock(), [], []
    progress = Progress(
        phases=BACKTEST_PHASES,
        clock=clock,
        say=said.append,
        report=lambda fraction, message: written.append((clock.now, fraction, message)),
    )
    progress.begin("features")
    for n in range(1, 101):  # a hundred steps in half a second
        clock.now = n * 0.005
        progress.advance(n, 200, f"features: snapshot date {n} of 200")
    assert len(written) == 1 and progress.pending
    clock.now = 1.2
    progress.advance(101, 200, "features: snapshot date 101 of 200")
    assert len(written) == 2 and written[-1][2] == "features: snapshot date 101 of 200"
    progress("fold 1: train …")  # a coarse message: written now, and passed on as it is
    assert said == ["fold 1: train …"] and len(written) == 3


def test_the_estimate_waits_for_a_few_percent_and_speaks_in_minutes():
    assert remaining_words(elapsed=30, fraction=0.02) == ""  # too early
    assert remaining_words(elapsed=5, fraction=0.5) == ""  # too young
    assert remaining_words(elapsed=180, fraction=0.25) == "about 9 min left"
    assert remaining_words(elapsed=60, fraction=0.9) == "less than a minute left"
    assert remaining_words(elapsed=3600, fraction=0.4) == "about 1 h 30 min left"
    assert remaining_words(elapsed=600, fraction=1.0) == ""


def test_a_jobs_progress_is_one_update_a_second(db, django_assert_num_queries):
    job = JobRun.objects.create(kind="train", total=STEPS)
    progress = job_progress(job, TRAIN_PHASES)
    clock = progress.clock = Clock()
    with django_assert_num_queries(1):
        progress.begin("features")
        for n in range(50):
            clock.now = n / 100
            progress.advance(n, 50, "features …")
    clock.now = 1.5
    with django_assert_num_queries(1):
        progress.advance(50, 50, "features: done")
    job.refresh_from_db()
    assert job.progress == round(progress.shares["features"] * STEPS) and job.message == "features: done"


# --- on a small world ---------------------------------------------------------------------------------------
@pytest.fixture
def demo(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", accounts=300, seed=7, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())


def test_a_backtest_steps_through_every_date_fold_family_and_refit(demo, settings):
    settings.SCORING_FEATURE_ABLATION = True
    said: list[str] = []
    progress, marks = recording(BACKTEST_PHASES, say=said.append)
    report = B.run(folds=2, progress=progress)
    assert_forward_to_the_end(marks)
    messages = [m for _, m, _ in marks]
    dates = len(report["snapshot_dates"])
    for k in range(1, dates + 1):
        assert f"features: snapshot date {k} of {dates}" in messages
    for fold in (1, 2):
        for _, label, _ in FOLD_STEPS:
            assert f"backtest fold {fold} of 2: {label} …" in messages
        assert f"backtest fold {fold} of 2 done" in messages
    refits = [m for m in messages if m.startswith("feature groups: refit")]
    assert len(refits) == len(report["feature_groups"]["groups"]) + 1
    # Steps move the bar evenly enough: no step jumps by more than a fold's costliest fit.
    fractions = [f for f, _, _ in marks]
    biggest = max(b - a for a, b in zip(fractions, fractions[1:], strict=False))
    assert biggest <= progress.shares["backtest"] / 2 * max(s for _, _, s in FOLD_STEPS) + 1e-9
    # The coarse messages (the lines the commands print) are as before, their days as the pages write them.
    day = r"\d{1,2} [A-Z][a-z]{2} \d{4}"
    assert any(re.fullmatch(f"fold 1: train {day} – {day}, test {day}", m) for m in said), said
    assert not any("snapshot date" in m for m in said)


def test_a_training_run_ends_at_100_through_every_phase(demo):
    said: list[str] = []
    progress, marks = recording(TRAIN_PHASES, say=said.append)
    result = models_train_all(folds=2, progress=progress)
    assert result["in_market"]["version"] == 1
    assert_forward_to_the_end(marks)
    seen = [p for _, _, p in marks if p]
    assert [p for p in TRAIN_PHASES if p in seen] == [p for p in dict.fromkeys(seen)]  # in order
    assert {"features", "backtest", "final_fit", "account_fit"} <= set(seen)
    assert any("cross-validation fold 1 of" in m for _, m, _ in marks)
    # The job's words: the model's name and version, not its key.
    assert "In-market model, version 1: champion" in said
    assert not any(m.startswith("in_market") for m in said)
