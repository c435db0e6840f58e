import datetime

from django.utils import timezone

from playbooks.models import Play, Playbook
from revops.choices import TeamKind, VersionStatus
from scoring.models import BuyingStageTransition, QualificationPolicy


def published_playbook(stage: str, *plays: dict, segment=None, number: int = 1) -> Playbook:
    """A published playbook for ``stage`` with ``plays`` (fields of Play; name and team_kind defaulted)."""
    book = Playbook.objects.create(
        number=number, name=f"{stage} playbook", stage=stage, segment=segment, status=VersionStatus.PUBLISHED
    )
    for position, fields in enumerate(plays, start=1):
        Play.objects.create(
            playbook=book,
            position=position,
            **{"name": f"Play {position}", "team_kind": TeamKind.SALES, **fields},
        )
    return book


def enter(account, to_stage: str, *, from_stage: str = "", at: datetime.datetime | None = None):
    """A buying-stage transition of ``account``, as the scoring pipeline records it."""
    policy = QualificationPolicy.objects.order_by("pk").first()
    return BuyingStageTransition.objects.create(
        account=account,
        from_stage=from_stage,
        to_stage=to_stage,
        at=at or timezone.now(),
        in_market=0.4,
        reason="test",
        policy_id=policy.pk if policy else 1,
    )
