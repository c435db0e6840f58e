"""The demo's revenue plans (``demo_plans``, run by ``make demo``): this quarter's is published — computed
from the demo opportunities' history, proposed by a marketing lead and approved by a sales lead and the
other marketing lead — with figures that compute and pipeline created against its quota; next quarter's
is a draft based on it. Run again, nothing changes; without the demo leads, nothing is written."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from accounts.choices import OpportunityStage
from accounts.models import Opportunity
from plans import selectors
from plans.models import RevenuePlan
from revops.choices import TeamKind, VersionStatus

END = dt.date(2025, 6, 30)  # the world ends the day before: its last day is in Q2 2025
ON = END - dt.timedelta(days=1)
SMALL = 60

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def world(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    run("seed_demo", "--accounts", str(SMALL), "--seed", "7", "--end-date", END.isoformat(), "-v", "0")
    run("demo_users", "--force")


def test_the_demo_publishes_this_quarters_plan_from_its_history_and_drafts_the_next(world):
    output = run("demo_plans", "--on", ON.isoformat())
    current = RevenuePlan.objects.get(period_start=dt.date(2025, 4, 1))
    assert current.status == VersionStatus.PUBLISHED and current.team_id is None
    assert f"{current} (published)" in output and "pipeline needed" in output
    # Agreed by four eyes: proposed by one marketing lead, approved by sales and the other marketing lead.
    assert (current.created_by.username, current.proposed_by.username) == ("marketing", "marketing")
    assert {(a.user.username, a.team_kind) for a in current.approvals.all()} == {
        ("sales", TeamKind.SALES),
        ("marketing2", TeamKind.MARKETING),
    }
    # A realistic target: 1.2 × the revenue won in Q1 2025, rounded to the thousand.
    won = Opportunity.objects.filter(
        stage=OpportunityStage.WON, close_date__range=(dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    ).aggregate(total=Sum("amount"))["total"]
    assert won and current.revenue_target == pytest.approx(Decimal("1.2") * won, abs=Decimal(5_000))

    # The numbers come from the year before, and every figure computes.
    assert (current.history_start, current.history_end) == (dt.date(2024, 4, 1), dt.date(2025, 3, 31))
    assert current.win_rate is None and current.history_figures["won"] > 0
    figures = selectors.plan_figures(current)
    assert figures.ready and figures.problems == []
    assert set(figures.sources.values()) == {"history"}
    assert figures.pipeline == pytest.approx(float(current.revenue_target) / figures.win_rate)
    # The demo's deals carry channels: the split is over several, as their history suggests.
    shares = {row.name: row.share for row in figures.channels if row.share > 0}
    assert len(shares) >= 3 and sum(shares.values()) == pytest.approx(1)
    assert max(shares.values()) < 0.9
    unassigned = current.history_figures["channels"].get(selectors.UNASSIGNED, {})
    assert not unassigned.get("pipeline")

    # Attainment: pipeline was created in the plan's window, on planned channels.
    attainment = selectors.plan_attainment(current, figures, today=ON)
    assert attainment.total > 0 and attainment.total_count > 0
    assert any(attainment.channel_total(row.key) > 0 for row in figures.channels)

    # Next quarter: a draft based on this one, 10% more, with this one's channel shares.
    following = RevenuePlan.objects.get(period_start=dt.date(2025, 7, 1))
    assert following.status == VersionStatus.DRAFT and following.based_on_id == current.pk
    assert following.name == "Revenue plan Q3 2025"
    assert following.revenue_target == pytest.approx(current.revenue_target * Decimal("1.1"), abs=1000)
    assert {a.channel_id: a.share for a in following.allocations.all()} == pytest.approx(
        {a.channel_id: a.share for a in current.allocations.all()}, abs=1e-6
    )
    assert (following.history_start, following.history_end) == (dt.date(2024, 7, 1), dt.date(2025, 6, 30))

    # Run again: nothing new.
    again = run("demo_plans", "--on", ON.isoformat())
    assert "exists already" in again
    assert RevenuePlan.objects.count() == 2


def test_without_the_demo_leads_nothing_is_written(db):
    with pytest.raises(CommandError, match="run `manage.py demo_users` first"):
        run("demo_plans", "--on", ON.isoformat())
    assert not RevenuePlan.objects.exists()
