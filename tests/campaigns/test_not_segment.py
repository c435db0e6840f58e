"""``?not_segment=``: the accounts outside segments, read two ways (a probe per account, or the members
hashed once when the segments hold nearly every account) that must always name the same accounts."""

import datetime

import pytest
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account
from campaigns import filtersets
from campaigns.choices import SegmentKind
from campaigns.models import SegmentMembership
from revops.querysets import NotAmong
from tests.accounts.factories import AccountFactory
from tests.campaigns.factories import SegmentFactory

pytestmark = pytest.mark.django_db

# Per account: for each of two segments, never a member / a current member / a former member.
STAYS = st.lists(st.tuples(st.sampled_from("ncf"), st.sampled_from("ncf")), max_size=12)


def _memberships(stays) -> tuple[list, list[Account]]:
    segments = [SegmentFactory(kind=SegmentKind.STATIC), SegmentFactory(kind=SegmentKind.STATIC)]
    accounts = AccountFactory.create_batch(len(stays))
    joined = timezone.now() - datetime.timedelta(days=3)
    rows = []
    for account, per_segment in zip(accounts, stays, strict=True):
        for segment, stay in zip(segments, per_segment, strict=True):
            if stay != "n":
                left = joined + datetime.timedelta(days=1) if stay == "f" else None
                stay_row = {"joined_at": joined, "left_at": left, "version": 1}
                rows.append(SegmentMembership(segment=segment, account=account, **stay_row))
    SegmentMembership.objects.bulk_create(rows)
    return segments, accounts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stays=STAYS, chosen=st.sampled_from([(0,), (1,), (0, 1)]))
def test_the_hashed_form_names_the_accounts_the_probes_name(db, stays, chosen):
    with transaction.atomic():
        segments, accounts = _memberships(stays)
        ids = [segments[i].pk for i in chosen]
        members = SegmentMembership.objects.filter(segment_id__in=ids, left_at__isnull=True)
        probed = Account.objects.filter(~Exists(members.filter(account_id=OuterRef("pk"))))
        hashed = Account.objects.filter(NotAmong("pk", members.values("account_id")))
        expected = {a.pk for a, s in zip(accounts, stays, strict=True) if all(s[i] != "c" for i in chosen)}
        assert set(probed.values_list("pk", flat=True)) == expected
        assert list(hashed.order_by("-pk").values_list("pk", flat=True)) == sorted(expected, reverse=True)
        # Composes with other conditions and with its own negation.
        assert (
            set(
                Account.objects.exclude(NotAmong("pk", members.values("account_id"))).values_list(
                    "pk", flat=True
                )
            )
            == {a.pk for a in accounts} - expected
        )
        transaction.set_rollback(True)


def test_among_no_rows_leaves_every_account():
    accounts = AccountFactory.create_batch(3)
    nobody = SegmentMembership.objects.none().values("account_id")
    assert set(Account.objects.filter(NotAmong("pk", nobody)).values_list("pk", flat=True)) == {
        a.pk for a in accounts
    }


@pytest.mark.parametrize("dense", [True, False], ids=["hashed", "probed"])
def test_api_not_segment_is_exact_whichever_way_it_reads(client_for, member, monkeypatch, dense):
    """A segment whose last refresh counted every account takes the hashed form; its count may be stale
    (an account left since, one arrived), the answer never is."""
    monkeypatch.setattr(filtersets, "DENSE_SEGMENT_SHARE", 0.995 if dense else 2.0)
    inside, left, newcomer = AccountFactory.create_batch(3)
    everyone = SegmentFactory(kind=SegmentKind.STATIC, name="Every account", member_count=3)
    joined = timezone.now() - datetime.timedelta(days=2)
    SegmentMembership.objects.bulk_create(
        [
            SegmentMembership(segment=everyone, account=inside, joined_at=joined, version=1),
            SegmentMembership(
                segment=everyone, account=left, joined_at=joined, left_at=timezone.now(), version=1
            ),
        ]
    )
    api = client_for(member)
    response = api.get("/api/accounts/", {"not_segment": everyone.pk})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [newcomer.pk, left.pk]
    assert api.get("/api/accounts/", {"not_segment": 10**9}).status_code == 400
