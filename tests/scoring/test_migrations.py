"""Qualification policies join the versioned-document workflow (scoring.0014): a database from before
keeps every version and its values; "archived" becomes "superseded" (and back when unapplied), and the
rolled-back version can still be restored."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from revops.choices import Role, TeamKind, VersionStatus
from scoring import policy as policies
from scoring.models import QualificationPolicy

BEFORE = [("scoring", "0013_rule_campaign_in_accounts")]
AFTER = [("scoring", "0014_policy_signoff")]


def _migrate(targets):
    """Migrate the test database to ``targets``; the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()  # what is applied now
    ContentType.objects.clear_cache()
    return executor.loader.project_state(list(executor.loader.applied_migrations)).apps


@pytest.fixture
def before(transactional_db):
    """The database before scoring.0014; back at the head after."""
    old = _migrate(BEFORE)
    yield old
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_archived_policies_become_superseded_and_keep_their_values(before, user_in, monkeypatch):
    Policy = before.get_model("scoring", "QualificationPolicy")
    # Whatever the database holds (the starter policy, unless a test before flushed it) is history now.
    Policy.objects.filter(status="published").update(status="archived")
    base = max(Policy.objects.values_list("number", flat=True), default=0)
    old = Policy.objects.create(number=base + 1, name="Old", status="archived", published_at=timezone.now())
    live = Policy.objects.create(
        number=base + 2,
        name="Tighter",
        status="published",
        icp_weight=0.7,
        revision=3,
        published_at=timezone.now(),
    )
    Policy.objects.create(number=base + 3, name="Next", status="draft", purchase_min=0.6)

    _migrate(AFTER)
    rows = {p.number - base: p for p in QualificationPolicy.objects.filter(number__gt=base)}
    assert {n: p.status for n, p in rows.items()} == {1: "superseded", 2: "published", 3: "draft"}
    assert not QualificationPolicy.objects.filter(status="archived").exists()
    assert (rows[2].icp_weight, rows[2].revision, rows[3].purchase_min) == (0.7, 3, 0.6)
    assert rows[1].published_at == old.published_at and rows[2].pk == live.pk
    assert not rows[2].approvals.exists() and rows[2].based_on is None
    monkeypatch.setattr("scoring.pipeline.full_rescore_schedule", lambda **kwargs: None)
    policies.policy_rollback(target=rows[1], user=user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD))
    assert QualificationPolicy.objects.get(pk=old.pk).status == VersionStatus.PUBLISHED

    QualificationPolicy.objects.filter(pk=rows[3].pk).update(status="proposed")
    back = _migrate(BEFORE).get_model("scoring", "QualificationPolicy")
    statuses = dict(back.objects.filter(number__gt=base).values_list("number", "status"))
    assert statuses == {base + 1: "published", base + 2: "archived", base + 3: "draft"}
