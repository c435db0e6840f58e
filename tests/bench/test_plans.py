"""The plans benchmark's own correctness (never its timings): at a tiny size the section builds its world,
publishes its plan, its plain baselines compute exactly the figures the selectors do, and its JSON has every
key the docs describe."""

import argparse
import datetime
from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts.models import Account, Opportunity
from bench import plans as bench
from bench.__main__ import SECTIONS
from plans.selectors import history_compute
from playbooks.models import PlayRun, PlayTask
from scoring.models import AccountModelScore, BuyingStageTransition

pytestmark = pytest.mark.django_db


def options(**overrides) -> SimpleNamespace:
    values = {
        "plans_accounts": 80,
        "plans_opportunities": 600,
        "plans_seed": 7,
        "plans_repeats": 1,
        "plans_page_requests": 2,
        "plans_playbook_trigger": True,
        "plans_playbook_regress_share": 0.2,
        "plans_profile": None,
    }
    return SimpleNamespace(**(values | overrides))


def test_the_section_is_registered_and_takes_its_sizes_as_flags():
    assert SECTIONS["plans"] == "bench.plans"
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser.add_argument_group("plans"))
    args = parser.parse_args(["--plans-accounts", "100000", "--plans-opportunities", "250000"])
    assert (args.plans_accounts, args.plans_opportunities) == (100_000, 250_000)
    assert args.plans_playbook_trigger is True and args.plans_playbook_regress_share == 0.2
    args = parser.parse_args(["--no-plans-playbook-trigger", "--plans-playbook-regress-share", "0.5"])
    assert args.plans_playbook_trigger is False and args.plans_playbook_regress_share == 0.5


def test_the_section_runs_at_a_tiny_size_and_its_baselines_agree_with_the_selectors():
    result = bench.measure(options())

    assert {
        "world",
        "history",
        "attainment",
        "plan_page",
        "playbook_trigger_after_rescore",
        "targets",
    } <= set(result)
    world = result["world"]
    assert Account.objects.count() == world["accounts"] == 80
    assert AccountModelScore.objects.count() == world["scores"] == 80
    assert Opportunity.objects.count() == world["opportunities"] == 600
    assert set(world["stages"]) >= {"won", "lost"}

    history = result["history"]
    assert history["agreement"] == {"agree": True}
    assert history["figures"]["won"] > 0 and history["speedup"] is not None
    assert {"seconds", "queries", "baseline", "window"} <= set(history)

    attainment = result["attainment"]
    assert attainment["agreement"] == {"agree": True}
    assert attainment["plan"]["status"] == "published" and attainment["plan"]["today_in_creation_window"]
    assert attainment["figures"]["opportunities_created"] > 0
    assert attainment["figures"]["in_market_accounts"] > 0
    assert attainment["speedup"] is not None
    assert {"seconds", "in_market_expected_seconds", "baseline"} <= set(attainment)

    page = result["plan_page"]
    assert page["statuses"] == {"200": 4} and page["requests"] == 2
    assert page["p95_ms"] is not None and page["path"] == f"/plans/{attainment['plan']['pk']}/"

    playbooks = result["playbook_trigger_after_rescore"]
    assert playbooks["measured"] is True and playbooks["agree"] is True
    assert playbooks["playbooks"] == {"awareness": 1, "consideration": 2, "decision": 1, "purchase": 2}
    first, second = playbooks["rounds"]
    assert first["transitions"] == 80 and second["transitions"] == 16  # 20% fall back a stage
    for measured in (first, second):
        assert measured["agreement"] == {"agree": True} and measured["speedup"] is not None
        assert {"seconds", "transitions_per_second", "queries", "rows_written", "counts", "baseline"} <= set(
            measured
        )
        assert measured["trigger"]["transitions"] == measured["transitions"]
    assert first["counts"]["runs"] and first["counts"]["tasks"]["open"] > 0
    assert second["trigger"]["stopped"] > 0 and second["counts"]["runs"]["stopped"] > 0
    assert second["counts"]["cursor"] == BuyingStageTransition.objects.order_by("id").last().id
    assert PlayRun.objects.count() == sum(second["counts"]["runs"].values())
    assert "plan_page_under_300ms_met" in result["targets"]


def test_the_history_baseline_sees_what_history_compute_sees_and_a_difference_is_caught():
    today = timezone.localdate()
    bench.world_build(accounts=30, opportunities=300, seed=3, today=today)
    start, end = today - datetime.timedelta(days=365), today
    base = bench.history_baseline(start=start, end=end)["figures"]
    computed = history_compute(start=start, end=end)
    computed.pop("computed_at")
    assert bench.figures_differences(base, computed) == []

    Opportunity.objects.filter(stage="lost", close_date__range=(start, end)).first().delete()
    changed = history_compute(start=start, end=end)
    changed.pop("computed_at")
    at = {d["at"] for d in bench.figures_differences(base, changed)}
    assert {"/lost", "/win_rate", "/cycles"} <= at


def test_figures_differences_allows_only_the_last_bits_of_a_sum():
    assert bench.figures_differences({"a": 0.1 + 0.2, "n": [1, 2]}, {"a": 0.3, "n": [1, 2]}) == []
    assert bench.figures_differences({"a": 1.0, "n": [1, 2]}, {"a": 1.001, "n": [1, 3], "x": 0}) == [
        {"at": "/a", "baseline": 1.0, "selector": 1.001},
        {"at": "/n/1", "baseline": 2, "selector": 3},
        {"at": "/x", "baseline": None, "selector": 0},
    ]


def test_the_playbook_baseline_disagreeing_gives_no_ratio_and_lists_the_differences(monkeypatch):
    today = timezone.localdate()
    bench.world_build(accounts=40, opportunities=100, seed=5, today=today)
    original = bench.trigger_baseline

    def one_task_short(**kwargs):
        result = original(**kwargs)
        PlayTask.objects.order_by("id").last().delete()
        return result

    monkeypatch.setattr(bench, "trigger_baseline", one_task_short)
    result = bench.playbook_trigger_after_rescore(options(plans_accounts=40))
    first = result["rounds"][0]
    assert result["agree"] is False and first["speedup"] is None
    assert first["agreement"]["agree"] is False
    assert any(d["at"].startswith("/tasks/") for d in first["agreement"]["differences"])
