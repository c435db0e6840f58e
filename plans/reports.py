"""A plan's figures and attainment as plain JSON-ready data: the API's answers and the page's charts read
the same structures, so they cannot disagree."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from scoring import metrics

from .models import RevenuePlan
from .selectors import UNASSIGNED, Attainment, PlanFigures


def _month(day: datetime.date) -> str:
    return day.strftime("%Y-%m")


def figures_as_dict(figures: PlanFigures) -> dict[str, Any]:
    return {
        "win_rate": figures.win_rate,
        "deal_size": figures.deal_size,
        "cycle_days": figures.cycle_days,
        "sources": figures.sources,
        "revenue": figures.revenue,
        "pipeline_needed": figures.pipeline,
        "opportunities_needed": figures.opportunities,
        "create_from": figures.creation_window[0].isoformat() if figures.creation_window else None,
        "create_until": figures.creation_window[1].isoformat() if figures.creation_window else None,
        "schedule": [
            {"month": _month(m), "pipeline": v, "opportunities": figures.opportunity_schedule[m]}
            for m, v in figures.schedule.items()
        ],
        "channels": [
            {
                "channel": row.name,
                "channel_id": int(row.key),
                "share": row.share,
                "suggested_share": row.suggested,
                "historical_win_rate": row.historical_win_rate,
                "capacity": row.capacity,
                "capped": row.capped,
                "quota": row.quota,
                "opportunities": row.opportunities,
                "by_month": {_month(m): v for m, v in row.by_month.items()},
            }
            for row in figures.channels
        ],
        "shortfall": figures.shortfall,
        "problems": figures.problems,
    }


def attainment_rows(figures: PlanFigures, attainment: Attainment) -> list[dict[str, Any]]:
    """One row per channel — the plan's, then any other that created pipeline, then none — with quota and
    created by month: the whole pipeline, not only the planned channels'."""
    rows = []
    planned = {row.key for row in figures.channels}
    for row in figures.channels:
        rows.append(
            {
                "key": row.key,
                "channel": row.name,
                "planned": True,
                "quota": row.quota,
                "created": attainment.channel_total(row.key),
                "opportunities": attainment.channel_count(row.key),
                "months": [
                    {
                        "month": _month(m),
                        "quota": row.by_month.get(m, 0.0),
                        "created": attainment.pipeline.get((m, row.key), 0.0),
                        "opportunities": attainment.count.get((m, row.key), 0),
                    }
                    for m in attainment.months
                ],
            }
        )
    others = sorted({k for (_, k) in attainment.pipeline} - planned, key=lambda k: (k == UNASSIGNED, k))
    for key in others:
        rows.append(
            {
                "key": key,
                "channel": attainment.channel_names.get(key, key),
                "planned": False,
                "quota": 0.0,
                "created": attainment.channel_total(key),
                "opportunities": attainment.channel_count(key),
                "months": [
                    {
                        "month": _month(m),
                        "quota": 0.0,
                        "created": attainment.pipeline.get((m, key), 0.0),
                        "opportunities": attainment.count.get((m, key), 0),
                    }
                    for m in attainment.months
                ],
            }
        )
    for row in rows:
        row["attainment"] = row["created"] / row["quota"] if row["quota"] else None
    return rows


def attainment_as_dict(
    plan: RevenuePlan, figures: PlanFigures, attainment: Attainment | None
) -> dict[str, Any]:
    if attainment is None:
        return {"plan": plan.pk, "ready": False, "problems": figures.problems}
    outlook = attainment.forecast
    quota_by_month = {m: v for m, v in figures.schedule.items()}
    return {
        "plan": plan.pk,
        "ready": True,
        "months": [_month(m) for m in attainment.months],
        "quota": figures.pipeline,
        "created": attainment.total,
        "opportunities_quota": figures.opportunities,
        "opportunities_created": attainment.total_count,
        "attainment": attainment.total / figures.pipeline if figures.pipeline else None,
        "unpriced_opportunities": attainment.unpriced,
        "by_month": [
            {
                "month": _month(m),
                "quota": quota_by_month.get(m, 0.0),
                "created": attainment.month_total(m),
                "opportunities_quota": figures.opportunity_schedule.get(m, 0.0),
                "opportunities": sum(v for (mm, _), v in attainment.count.items() if mm == m),
            }
            for m in attainment.months
        ],
        "channels": attainment_rows(figures, attainment),
        "forecast": {
            "created": outlook.created,
            "run_rate_per_day": outlook.run_rate,
            "in_market_expected": outlook.in_market,
            "in_market_accounts": attainment.in_market_accounts,
            "expected": outlook.expected,
            "low": outlook.low,
            "high": outlook.high,
            "cone": [
                {"day": p.day.isoformat(), "expected": p.expected, "low": p.low, "high": p.high}
                for p in outlook.cone
            ],
        },
    }


def metrics_window(params) -> tuple[datetime.date, datetime.date]:
    """``since``/``until`` from a query (ISO dates; default: the last 90 days through today)."""
    today = timezone.localdate()
    try:
        until = datetime.date.fromisoformat(params.get("until") or today.isoformat())
        since = datetime.date.fromisoformat(
            params.get("since") or (until - datetime.timedelta(days=89)).isoformat()
        )
    except ValueError:
        raise ValidationError({"since": ["Dates as YYYY-MM-DD."]}) from None
    if since > until:
        raise ValidationError({"since": ["The window starts after it ends."]})
    if (until - since).days > 3 * 366:
        raise ValidationError({"since": ["At most three years."]})
    return since, until


def _conversion(since: datetime.date, until: datetime.date) -> dict[str, Any]:
    with metrics.without_jit():  # its correlated subqueries cost more to compile than to run
        return metrics.funnel_conversion(since=since, until=until)


def sales_metrics(*, user, since: datetime.date, until: datetime.date) -> dict[str, Any]:
    """The figures sales trusts, on one page and in one API answer, each from its one definition
    (``scoring.metrics``): account and persona engagement, deal velocity by month, accounts in market (by
    buying stage), the conversion chain MQL → SAL → SQL → opportunity → won of the window's MQL cohort."""
    velocity = metrics.deal_velocity(since=since, until=until, user=user)
    # Persona and account engagement read every contact's and account's score: kept a few minutes and
    # forgotten by a full rescore (scoring.metrics.figure_kept); the page says as of when.
    personas, personas_as_of = metrics.figure_kept(
        "persona_engagement", lambda: metrics.persona_engagement(user=user), user=user
    )
    engagement, _as_of = metrics.figure_kept(
        "account_engagement", lambda: metrics.account_engagement(user=user), user=user
    )
    # The conversion chain and the stages now read a million contacts' moves: kept until one is added.
    version = metrics.lifecycle_version
    conversion, _as_of = metrics.figure_kept(
        f"funnel_conversion:{since.isoformat()}:{until.isoformat()}",
        lambda: _conversion(since, until),
        version=version,
    )
    currently, _as_of = metrics.figure_kept(
        "contacts_by_stage", lambda: metrics.contacts_by_stage(user=user), user=user, version=version
    )
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "account_engagement": engagement,
        "persona_engagement": personas,
        "persona_engagement_as_of": personas_as_of.isoformat(timespec="seconds"),
        "deal_velocity": [{**row, "month": _month(row["month"])} for row in velocity],
        "accounts_in_market": metrics.accounts_in_market(user=user),
        "buying_stages": metrics.buying_stage_summary(user=user),
        "conversion": {**conversion, "since": since.isoformat(), "until": until.isoformat()},
        "currently": currently,
    }  # fmt: skip
