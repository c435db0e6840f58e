"""People's names on the scoring pages (issue 17): who decided on a leakage warning reads as a full
name, not the username ("by revops")."""

import pytest

from scoring.learned import decisions
from scoring.models import ColumnDecision
from tests.revops.factories import UserFactory


@pytest.mark.django_db
def test_a_leakage_decision_names_the_person_by_full_name():
    grace = UserFactory(username="revops", first_name="Grace", last_name="Hopper")
    bare = UserFactory(username="analyst", first_name="", last_name="")
    made = {
        "deal_amount": ColumnDecision.objects.create(
            kind="in_market", column="deal_amount", decision="excluded", decided_by=grace
        ),
        "seats": ColumnDecision.objects.create(
            kind="in_market", column="seats", decision="confirmed", decided_by=bare
        ),
        "notes": ColumnDecision.objects.create(kind="in_market", column="notes", decision="confirmed"),
    }
    warnings = [{"column": name, "reason": "too good"} for name in made]
    resolved = decisions.warnings_resolved(warnings, made)
    assert [w["decided_by"] for w in resolved] == ["Grace Hopper", "analyst", "command line"]
