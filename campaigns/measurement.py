"""Campaign launch and measurement: the holdout drawn at launch, a matched control where there is none,
and the lift in account engagement, opportunities, pipeline and MQLs with 95% intervals — plus reach,
sourced and influenced pipeline, costs per incremental result. Set-based: a few grouped queries per
campaign over its audience (never one per account); the statistics are ``campaigns.stats``.

Account engagement is first-party events (every kind but third-party intent) per account-week, from
the daily rollups. The engagement lift compares the change from the ``PRE_WEEKS`` weeks before the
start to the weeks the campaign ran (up to the data's end) in targeted accounts with the same change
in the control. Opportunities, pipeline and MQLs compare rates per account over the run and the
``OPPORTUNITY_LAG_DAYS`` after it.
"""

from __future__ import annotations

import datetime
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from accounts.choices import EventType, LifecycleStage, OpportunityStage
from accounts.models import Account, AccountActivityDaily, Campaign, EngagementEvent, Opportunity
from revops.audit import change_record_create, model_snapshot
from revops.bulk import bulk_insert, ids_condition, is_postgres, table_sql
from revops.choices import ChangeAction
from scoring.choices import BuyingStage
from scoring.models import AccountModelScore, BuyingStageTransition, LifecycleTransition

from . import stats
from .choices import AudienceGroup, ControlKind
from .models import CampaignAudience, CampaignMeasurement, CampaignTarget, Segment
from .segments import segment_accounts, segment_members_as_of

PRE_WEEKS = 8
OPPORTUNITY_LAG_DAYS = 30
MATCHED_POOL = 20_000
ENGAGED_ACCOUNTS = 50
ID_CHUNK = 20_000  # ids per query (SQLite binds each one)


def influence_days() -> int:
    return settings.CAMPAIGN_INFLUENCE_DAYS


# --- launch ------------------------------------------------------------------------------------------
@transaction.atomic
def campaign_target_set(
    *, actor, campaign: Campaign, segment: Segment | None, holdout_share: float = 0.10
) -> CampaignTarget:
    """Aim a campaign at a segment with a holdout share (before launch; a launched campaign keeps its
    audience, so its target can no longer change)."""
    if not 0 <= holdout_share <= 0.5:
        raise ValidationError(
            {"holdout_share": "Between 0 and 0.5 (a share of the segment, not a percentage)."}
        )
    target, _ = CampaignTarget.objects.select_for_update().get_or_create(campaign=campaign)
    if target.launched_at and (
        target.segment_id != (segment.pk if segment else None) or target.holdout_share != holdout_share
    ):
        raise ValidationError("This campaign was launched: its target segment and holdout are recorded.")
    before = model_snapshot(target)
    target.segment, target.holdout_share = segment, holdout_share
    target.save()
    change_record_create(
        actor=actor, action=ChangeAction.UPDATE, instance=target, before=before, after=model_snapshot(target)
    )
    return target


@transaction.atomic
def campaign_launch(
    *, actor, campaign: Campaign, seed: int | None = None, at: datetime.datetime | None = None
) -> CampaignTarget:
    """Launch: the target segment's members now, a reproducible random share of them held out, both
    recorded as the campaign's audience (once)."""
    target = CampaignTarget.objects.select_for_update().filter(campaign=campaign).first()
    if target is None or target.segment_id is None:
        raise ValidationError("Choose the campaign's target segment before launching it.")
    if target.launched_at:
        raise ValidationError(f"Launched already, on {target.launched_at:%-d %b %Y}.")
    at = at or timezone.now()
    segment = target.segment
    ids = np.array(sorted(segment_accounts(segment).values_list("pk", flat=True)), dtype=np.int64)
    if not len(ids):
        raise ValidationError(f"The segment {segment.name} has no accounts to target.")
    target.seed = seed if seed is not None else secrets.randbelow(2**62)
    held = stats.holdout_mask(ids, seed=target.seed, share=target.holdout_share)
    audience_write(campaign=campaign, treated=ids[~held], holdout=ids[held], at=at)
    target.launched_at, target.launched_by, target.segment_version = at, actor, segment.version
    target.save()
    change_record_create(
        actor=actor,
        action=ChangeAction.UPDATE,
        instance=campaign,
        after={
            "launched": at.isoformat(),
            "segment": segment.name,
            "treated": int((~held).sum()),
            "holdout": int(held.sum()),
            "seed": target.seed,
        },
    )
    return target


def audience_write(
    *, campaign: Campaign, treated: Iterable[int], holdout: Iterable[int], at: datetime.datetime
) -> int:
    """Record a campaign's audience (bulk; the demo writes its own through this too)."""
    rows = [(campaign.pk, int(a), AudienceGroup.TREATED, at) for a in treated]
    rows += [(campaign.pk, int(a), AudienceGroup.HOLDOUT, at) for a in holdout]
    return bulk_insert(
        CampaignAudience._meta.db_table, ["campaign_id", "account_id", "group", "assigned_at"], rows
    )


# --- windows and groups ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    start: datetime.date
    end: datetime.date  # last day of the run that has data
    pre_start: datetime.date
    opportunity_end: datetime.date

    @property
    def post_days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def weeks(self) -> int:
        """Weeks from ``pre_start`` to ``end`` (the last one may be partial)."""
        return PRE_WEEKS + math.ceil(self.post_days / 7)


def data_end() -> datetime.date:
    """The last day with engagement data (today at the latest)."""
    last = AccountActivityDaily.objects.aggregate(last=Max("day"))["last"]
    today = timezone.localdate()
    return min(last, today) if last else today


def campaign_window(campaign: Campaign, end_of_data: datetime.date) -> Window | None:
    if campaign.start_date is None or campaign.start_date > end_of_data:
        return None
    end = min(campaign.end_date or end_of_data, end_of_data)
    return Window(
        start=campaign.start_date,
        end=end,
        pre_start=campaign.start_date - datetime.timedelta(days=7 * PRE_WEEKS),
        opportunity_end=min(end + datetime.timedelta(days=OPPORTUNITY_LAG_DAYS), end_of_data),
    )


@dataclass
class Groups:
    kind: str
    treated: np.ndarray
    control: np.ndarray
    weights: np.ndarray | None = None
    note: str = ""
    unmatched: int = 0
    strata: dict = field(default_factory=dict)


def _chunks(ids: np.ndarray) -> Iterable[list[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield [int(i) for i in ids[start : start + ID_CHUNK]]


def _weeks_sql(start_param: str = "%s") -> str:
    if is_postgres():
        return f"((day - {start_param}::date) / 7)"
    return f"(CAST(julianday(day) - julianday({start_param}) AS INTEGER) / 7)"


def engagement_matrix(ids: np.ndarray, window: Window) -> np.ndarray:
    """Engaged events per account (rows, in ``ids`` order) and week from ``pre_start`` (columns)."""
    matrix = np.zeros((len(ids), window.weeks), dtype=float)
    if not len(ids):
        return matrix
    position = {int(a): i for i, a in enumerate(ids)}
    table = table_sql(AccountActivityDaily)
    for chunk in _chunks(ids):
        cond, params = ids_condition("account_id", chunk)
        sql = (
            f"SELECT account_id, {_weeks_sql()} AS week, SUM(count) FROM {table} "
            f"WHERE {cond} AND day >= %s AND day <= %s AND event_type <> %s GROUP BY account_id, week"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [window.pre_start, *params, window.pre_start, window.end, EventType.INTENT])
            rows = cursor.fetchall()
        if rows:
            data = np.array(rows, dtype=np.int64)
            matrix[[position[a] for a in data[:, 0]], data[:, 1]] = data[:, 2]
    return matrix


def pre_post_rates(matrix: np.ndarray, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Each account's events per week before the start and while the campaign ran."""
    pre = matrix[:, :PRE_WEEKS].sum(axis=1) / PRE_WEEKS
    post = matrix[:, PRE_WEEKS:].sum(axis=1) / (window.post_days / 7)
    return pre, post


def _per_account(ids: np.ndarray, queryset_of, value_names: tuple[str, ...]) -> dict[str, np.ndarray]:
    out = {name: np.zeros(len(ids), dtype=float) for name in value_names}
    position = {int(a): i for i, a in enumerate(ids)}
    for chunk in _chunks(ids):
        for row in queryset_of(chunk):
            i = position[row["account_id"]]
            for name in value_names:
                out[name][i] = float(row[name] or 0)
    return out


def opportunities_per_account(ids: np.ndarray, window: Window) -> dict[str, np.ndarray]:
    """Opportunities opened and their amount per account, over the run and the lag after it."""
    return _per_account(
        ids,
        lambda chunk: (
            Opportunity.objects.filter(
                account_id__in=chunk, created_date__gte=window.start, created_date__lte=window.opportunity_end
            )
            .order_by()
            .values("account_id")
            .annotate(opportunities=Count("id"), pipeline=Sum("amount"))
        ),
        ("opportunities", "pipeline"),
    )


def mqls_per_account(ids: np.ndarray, window: Window) -> np.ndarray:
    """Contacts that became MQL per account over the run and the lag after it."""
    start = timezone.make_aware(datetime.datetime.combine(window.start, datetime.time.min))
    end = timezone.make_aware(datetime.datetime.combine(window.opportunity_end, datetime.time.max))
    return _per_account(
        ids,
        lambda chunk: (
            LifecycleTransition.objects.filter(
                contact__account_id__in=chunk, to_stage=LifecycleStage.MQL, at__gte=start, at__lte=end
            )
            .order_by()
            .values(account_id=F("contact__account_id"))
            .annotate(mqls=Count("id"))
        ),
        ("mqls",),
    )["mqls"]


def engaged_mqls(campaign: Campaign, window: Window) -> int:
    """People the campaign engaged (an attributed event) who became MQL over the run and the lag."""
    start = timezone.make_aware(datetime.datetime.combine(window.start, datetime.time.min))
    end = timezone.make_aware(datetime.datetime.combine(window.opportunity_end, datetime.time.max))
    people = EngagementEvent.objects.filter(campaign=campaign, contact_id__isnull=False).values("contact_id")
    return (
        LifecycleTransition.objects.filter(
            contact_id__in=people, to_stage=LifecycleStage.MQL, at__gte=start, at__lte=end
        )
        .values("contact_id")
        .distinct()
        .count()
    )


def _audience(campaign: Campaign) -> tuple[np.ndarray, np.ndarray]:
    rows = CampaignAudience.objects.filter(campaign=campaign).values_list("account_id", "group")
    treated = [a for a, g in rows if g == AudienceGroup.TREATED]
    held = [a for a, g in rows if g == AudienceGroup.HOLDOUT]
    return np.array(sorted(treated), dtype=np.int64), np.array(sorted(held), dtype=np.int64)


def _touched(campaign: Campaign, window: Window) -> np.ndarray:
    ids = (
        EngagementEvent.objects.filter(campaign=campaign, account_id__isnull=False)
        .order_by()
        .values_list("account_id", flat=True)
        .distinct()
    )
    return np.array(sorted(ids), dtype=np.int64)


def _stage_at(ids: list[int], day: datetime.date) -> dict[int, str]:
    """Each account's buying stage at the start of ``day`` (its last transition before; else target)."""
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    rows = (
        BuyingStageTransition.objects.filter(account_id__in=ids, at__lt=moment)
        .order_by("account_id", "-at", "-id")
        .values_list("account_id", "to_stage")
    )
    stage: dict[int, str] = {}
    for account_id, to_stage in rows:
        stage.setdefault(account_id, to_stage)
    return stage


def _strata(ids: np.ndarray, pre_rate: np.ndarray, window: Window) -> np.ndarray:
    bands: dict[int, str] = {}
    stages: dict[int, str] = {}
    for chunk in _chunks(ids):
        bands.update(
            AccountModelScore.objects.filter(account_id__in=chunk).values_list("account_id", "fit_band")
        )
        stages.update(_stage_at(chunk, window.start))
    buckets = stats.engagement_bucket(pre_rate)
    return np.array(
        [
            f"{bands.get(int(a), '-')}|{stages.get(int(a), BuyingStage.TARGET)}|{b}"
            for a, b in zip(ids, buckets, strict=True)
        ]
    )


def campaign_groups(campaign: Campaign, window: Window) -> Groups:
    """The targeted accounts and their control: the recorded holdout; else a control matched on fit
    band, buying stage at the start and engagement before it, from accounts the campaign did not target."""
    treated, held = _audience(campaign)
    if len(treated) and len(held):
        return Groups(kind=ControlKind.HOLDOUT, treated=treated, control=held)
    note = ""
    if not len(treated):
        target = CampaignTarget.objects.filter(campaign=campaign).select_related("segment").first()
        if target and target.segment_id:
            at = timezone.make_aware(datetime.datetime.combine(window.start, datetime.time.min))
            members = segment_members_as_of(segment=target.segment, at=at).values_list(
                "account_id", flat=True
            )
            treated = np.array(sorted(members), dtype=np.int64)
            note = f"Targeted: the members of {target.segment.name} at the start."
        if not len(treated):
            treated = _touched(campaign, window)
            note = (
                "Targeted: the accounts the campaign touched (no target segment was recorded), "
                "so the lift leans high."
            )
    if not len(treated):
        return Groups(
            kind=ControlKind.NONE,
            treated=treated,
            control=np.array([], dtype=np.int64),
            note="No account was targeted or touched.",
        )
    excluded = set(treated.tolist()) | set(held.tolist())
    pool = np.array(sorted(set(Account.objects.values_list("pk", flat=True)) - excluded), dtype=np.int64)
    if len(pool) > MATCHED_POOL:  # a reproducible sample of the untargeted accounts
        pool = pool[np.argsort(stats.uniform_hash(pool, campaign.pk))[:MATCHED_POOL]]
        pool.sort()
    pre_t, _ = pre_post_rates(engagement_matrix(treated, window), window)
    pre_c, _ = pre_post_rates(engagement_matrix(pool, window), window)
    strata_t = _strata(treated, pre_t, window)
    strata_c = _strata(pool, pre_c, window)
    weights, matched = stats.matching_weights(strata_t, strata_c)
    keep = weights > 0
    return Groups(
        kind=ControlKind.MATCHED,
        treated=treated[matched],
        control=pool[keep],
        weights=weights[keep],
        note=(
            note + " Control: untargeted accounts matched on fit band, buying stage and engagement"
            " before the start."
        ).strip(),
        unmatched=int((~matched).sum()),
    )


# --- the measurement ---------------------------------------------------------------------------------
def _reach(campaign: Campaign) -> tuple[int, int]:
    row = EngagementEvent.objects.filter(campaign=campaign).aggregate(
        accounts=Count("account_id", distinct=True), people=Count("contact_id", distinct=True)
    )
    return row["accounts"] or 0, row["people"] or 0


def _pipeline(campaign: Campaign, days: int) -> dict[str, float]:
    """Sourced pipeline (its source campaign), influenced pipeline (a touch on the account in the
    ``days`` before the opportunity opened) and won revenue of both."""
    sourced = Opportunity.objects.filter(source_campaign=campaign).aggregate(
        pipeline=Sum("amount"), won=Sum("amount", filter=Q(stage=OpportunityStage.WON)), n=Count("id")
    )
    opp, event = table_sql(Opportunity), table_sql(EngagementEvent)
    if is_postgres():
        since = "o.created_date - %s * INTERVAL '1 day'"
        until = "o.created_date + INTERVAL '1 day'"
    else:
        since = "datetime(o.created_date, '-' || %s || ' days')"
        until = "datetime(o.created_date, '+1 day')"
    sql = (
        f"SELECT COUNT(*), SUM(o.amount), SUM(CASE WHEN o.stage = %s THEN o.amount ELSE 0 END) FROM {opp} o "
        f"WHERE o.account_id IS NOT NULL AND o.created_date IS NOT NULL AND EXISTS (SELECT 1 FROM {event} e "
        f"WHERE e.account_id = o.account_id AND e.campaign_id = %s AND e.occurred_at >= {since} "
        f"AND e.occurred_at < {until})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [OpportunityStage.WON, campaign.pk, days])
        n, influenced, influenced_won = cursor.fetchone()
    return {
        "sourced_opportunities": sourced["n"] or 0,
        "sourced_pipeline": float(sourced["pipeline"] or 0),
        "sourced_won": float(sourced["won"] or 0),
        "influenced_opportunities": n or 0,
        "influenced_pipeline": float(influenced or 0),
        "influenced_won": float(influenced_won or 0),
    }


def engaged_accounts(campaign: Campaign, limit: int = ENGAGED_ACCOUNTS) -> list[dict]:
    """The accounts the campaign touched most: touches, people, first and last touch."""
    rows = (
        EngagementEvent.objects.filter(campaign=campaign, account_id__isnull=False)
        .order_by()
        .values("account_id")
        .annotate(touches=Count("id"), people=Count("contact_id", distinct=True), last=Max("occurred_at"))
        .order_by("-touches", "account_id")[:limit]
    )
    rows = list(rows)
    names = dict(Account.objects.filter(pk__in=[r["account_id"] for r in rows]).values_list("pk", "name"))
    return [
        {
            "account_id": r["account_id"],
            "name": names.get(r["account_id"], ""),
            "touches": r["touches"],
            "people": r["people"],
            "last_touch": r["last"].isoformat(),
        }
        for r in rows
    ]


def _figure(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _estimate(estimate: stats.Estimate) -> dict:
    return {k: (_figure(v) if isinstance(v, float) else v) for k, v in estimate.as_dict().items()}


def _weekly(matrix: np.ndarray, weights: np.ndarray | None) -> list[float]:
    if not len(matrix):
        return []
    if weights is None:
        return [round(float(v), 4) for v in matrix.mean(axis=0)]
    return [round(float(v), 4) for v in (weights[:, None] * matrix).sum(axis=0) / weights.sum()]


def campaign_measure(
    *, campaign: Campaign, end_of_data: datetime.date | None = None, days: int | None = None
) -> CampaignMeasurement | None:
    """Measure one campaign and store the result (``None`` if it has not started or has no dates)."""
    end_of_data = end_of_data or data_end()
    window = campaign_window(campaign, end_of_data)
    if window is None:
        CampaignMeasurement.objects.filter(campaign=campaign).delete()
        return None
    days = days or influence_days()
    groups = campaign_groups(campaign, window)
    treated, control, weights = groups.treated, groups.control, groups.weights
    m_t, m_c = engagement_matrix(treated, window), engagement_matrix(control, window)
    pre_t, post_t = pre_post_rates(m_t, window)
    pre_c, post_c = pre_post_rates(m_c, window)
    engagement = stats.diff_in_diff(pre_t, post_t, pre_c, post_c, weights)
    opp_t, opp_c = opportunities_per_account(treated, window), opportunities_per_account(control, window)
    opportunities = stats.difference(opp_t["opportunities"], opp_c["opportunities"], weights)
    pipeline = stats.difference(opp_t["pipeline"], opp_c["pipeline"], weights)
    mql_t, mql_c = mqls_per_account(treated, window), mqls_per_account(control, window)
    mqls = stats.difference(mql_t, mql_c, weights)
    n = len(treated)
    incremental_opps = opportunities.effect * n if opportunities.effect is not None else None
    incremental_pipeline = pipeline.effect * n if pipeline.effect is not None else None
    incremental_mqls = mqls.effect * n if mqls.effect is not None else None
    touched, people = _reach(campaign)
    money = _pipeline(campaign, days)
    cost = float(campaign.cost or 0)
    base = float(pre_t.mean()) if len(pre_t) else None
    detail = {
        "window": {
            "pre_start": window.pre_start.isoformat(),
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "opportunity_end": window.opportunity_end.isoformat(),
            "pre_weeks": PRE_WEEKS,
            "influence_days": days,
        },
        "note": groups.note,
        "unmatched": groups.unmatched,
        "engagement": _estimate(engagement),
        "engagement_pre": {
            "treated": _figure(base),
            "control": _figure(float(np.average(pre_c, weights=weights)) if len(pre_c) else None),
        },
        "opportunities": _estimate(opportunities),
        "pipeline": _estimate(pipeline),
        "mqls": _estimate(mqls),
        "weekly": {
            "weeks": [
                (window.pre_start + datetime.timedelta(days=7 * k)).isoformat() for k in range(window.weeks)
            ],
            "treated": _weekly(m_t, None),
            "control": _weekly(m_c, weights),
        },
        "treated_opportunities": int(opp_t["opportunities"].sum()),
        "treated_pipeline": float(opp_t["pipeline"].sum()),
        "treated_mqls": int(mql_t.sum()),  # from any cause, in the targeted accounts
        "money": money,
        "engaged_accounts": engaged_accounts(campaign),
    }
    values = {
        "measured_at": timezone.now(),
        "control": groups.kind,
        "treated": n,
        "controls": len(control),
        "cost": campaign.cost or 0,
        "accounts_touched": touched,
        "people_engaged": people,
        "engagement_lift": _figure(engagement.effect),
        "engagement_lift_low": _figure(engagement.low),
        "engagement_lift_high": _figure(engagement.high),
        "engagement_lift_pct": _figure(100 * engagement.effect / base, 2)
        if engagement.effect is not None and base
        else None,
        "incremental_opportunities": _figure(incremental_opps, 3),
        "incremental_pipeline": _figure(incremental_pipeline, 2),
        "incremental_mqls": _figure(incremental_mqls, 3),
        "cost_per_incremental_opportunity": _figure(cost / incremental_opps, 2)
        if incremental_opps and incremental_opps > 0 and cost
        else None,
        "cost_per_incremental_pipeline_dollar": _figure(cost / incremental_pipeline, 4)
        if incremental_pipeline and incremental_pipeline > 0 and cost
        else None,
        "sourced_pipeline": money["sourced_pipeline"],
        "influenced_pipeline": money["influenced_pipeline"],
        "won_revenue": money["sourced_won"],
        "mqls": engaged_mqls(campaign, window),
        "detail": detail,
    }
    measurement, _ = CampaignMeasurement.objects.update_or_create(campaign=campaign, defaults=values)
    return measurement


def campaigns_measure_all(*, end_of_data: datetime.date | None = None) -> dict[str, int]:
    """Measure every campaign that has started; a campaign that fails is reported, never blocks the rest."""
    end_of_data = end_of_data or data_end()
    done = skipped = 0
    failed: list[str] = []
    for campaign in Campaign.objects.order_by("pk"):
        try:
            with transaction.atomic():
                result = campaign_measure(campaign=campaign, end_of_data=end_of_data)
        except Exception as exc:  # noqa: BLE001  (one campaign's failure is reported, the rest go on)
            failed.append(f"{campaign.name}: {exc}")
            continue
        if result is None:
            skipped += 1
        else:
            done += 1
    return {"measured": done, "not_started": skipped, "failed": len(failed), "errors": failed[:20]}
