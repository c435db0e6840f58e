"""On PostgreSQL the backtest's rules baseline is computed in a process of its own while the features
are built: the same scores as computed in the training process, which does not compute them again."""

import importlib
import io
import os

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from accounts.models import Channel
from scoring.learned import backtest as B
from tests.scoring.factories import starter_ruleset

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="needs PostgreSQL (DATABASE_URL)",
    ),
    pytest.mark.django_db(transaction=True),  # the baseline's process must see the world: committed
]


def _channels() -> None:
    """A transactional test starts from empty tables: the channels and the starter ruleset the migrations
    create come back."""
    starter_ruleset()
    defaults = importlib.import_module("campaigns.migrations.0003_default_channels").DEFAULT_CHANNELS
    for name, slug, description, order in defaults:
        Channel.objects.get_or_create(slug=slug, defaults={"name": name, "description": description,
                                                           "sort_order": order})  # fmt: skip


def _die(dates):
    os._exit(9)  # the baseline's process is killed


def test_the_rules_baseline_from_its_own_process_is_the_one_computed_here(monkeypatch):
    _channels()
    call_command("seed_demo", accounts=120, seed=7, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    here = []
    original = B.rules_scores

    def counted(day, **kwargs):
        here.append(day)  # in this process's memory: a forked child's calls do not show up here
        return original(day, **kwargs)

    monkeypatch.setattr(B, "rules_scores", counted)
    dates = B.labelled_dates(as_of=B.data_end(), horizon_days=90)[-5:]
    tests = dates[-2:]
    with B.TrainingRows.build(dates=dates, horizon_days=90, test_dates=tests) as rows:
        forked = {}
        for day in tests:
            ids = pd.concat(list(rows.test_chunks([day])))["account_id"].to_numpy()
            forked[day] = (ids, rows.rules_scores(day, ids))
        assert here == []  # computed by the other process
    for day, (ids, scores) in forked.items():
        expected = original(day).reindex(ids).fillna(0.0).to_numpy()
        assert len(ids) > 100 and (scores > 0).any()
        np.testing.assert_array_equal(scores, expected)


def test_a_failed_baseline_process_leaves_the_baseline_to_this_one(monkeypatch):
    _channels()
    call_command("seed_demo", accounts=60, seed=7, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    monkeypatch.setattr(B, "rules_scores_of", _die)
    dates = B.labelled_dates(as_of=B.data_end(), horizon_days=90)[-3:]
    with B.TrainingRows.build(dates=dates, horizon_days=90, test_dates=dates[-1:]) as rows:
        ids = pd.concat(list(rows.test_chunks(dates[-1:])))["account_id"].to_numpy()
        scores = rows.rules_scores(dates[-1], ids)
    np.testing.assert_array_equal(scores, B.rules_scores(dates[-1]).reindex(ids).fillna(0.0).to_numpy())


def test_snapshots_read_a_chunk_ahead_are_the_ones_read_in_turn(monkeypatch):
    """On PostgreSQL the next chunk of accounts is read in a thread while this one's snapshots are made:
    the same rows, in the same order, as when each chunk is read in its turn."""
    from revops import chunks
    from scoring.learned import features as F

    _channels()
    call_command("seed_demo", accounts=90, seed=7, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    dates = B.labelled_dates(as_of=B.data_end(), horizon_days=90)[-3:]
    assert chunks.can_read_ahead()
    ahead = list(F.snapshot_chunks(dates=dates, chunk_accounts=20))
    monkeypatch.setattr(chunks, "can_read_ahead", lambda: False)
    in_turn = list(F.snapshot_chunks(dates=dates, chunk_accounts=20))
    assert len(ahead) == len(in_turn) >= 4 * len(dates)
    for one, other in zip(ahead, in_turn, strict=True):
        pd.testing.assert_frame_equal(one, other)
