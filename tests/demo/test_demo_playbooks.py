"""The demo's playbooks (``demo_playbooks``, run by ``make demo``): one published per buying stage with the
domain's tactics, agreed by four eyes, and the accounts that entered a stage lately have their plays."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Account
from playbooks.models import Playbook, PlayRun, PlayTask
from revops.choices import VersionStatus
from tests.playbooks.factories import enter

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_each_stage_gets_a_published_playbook_and_recent_entries_their_plays(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    run("seed_demo", "--accounts", "40", "--seed", "7", "-v", "0")
    with pytest.raises(CommandError, match="demo_users"):
        run("demo_playbooks")  # without the demo leads nothing is written
    assert not Playbook.objects.exists()
    run("demo_users", "--force")
    accounts = list(Account.objects.order_by("pk")[:10])
    for account in accounts:
        enter(account, "decision", from_stage="consideration")
    output = run("demo_playbooks")
    books = Playbook.objects.filter(status=VersionStatus.PUBLISHED)
    stages = sorted(books.values_list("stage", flat=True))
    assert stages == ["awareness", "consideration", "decision", "purchase"]
    decision = books.get(stage="decision")
    assert decision.approvals.count() == 2 and decision.proposed_by.username == "marketing"
    assert decision.plays.get().touches == 21
    runs = PlayRun.objects.filter(account__in=accounts)
    assert runs.count() == 10 and "started" in output
    started = runs.filter(status="open")
    assert PlayTask.objects.filter(run__in=started).count() == 21 * started.count()
    # Run again: nothing new.
    run("demo_playbooks")
    assert Playbook.objects.count() == 4 and PlayRun.objects.count() == 10
