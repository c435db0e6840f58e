"""Writes of campaigns as marketing makes them: the campaign with its cost lines by month (the campaign's
cost is their sum) and the keys that tie incoming events to it. Audited; all or nothing."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from accounts.models import Campaign, CampaignCost, CampaignKey
from revops.services import object_create, object_update

CAMPAIGN_FIELDS = {
    "name",
    "channel",
    "goal",
    "description",
    "start_date",
    "end_date",
    "cost",
    "budget",
    "owner_team",
}


def month_parse(value: Any) -> datetime.date:
    """``2026-03``, ``2026-03-01`` or a date → the first day of that month."""
    if isinstance(value, datetime.date):
        return value.replace(day=1)
    text = str(value or "").strip()
    for fmt in ("%Y-%m", "%Y-%m-%d", "%Y/%m", "%m/%Y"):
        try:
            return datetime.datetime.strptime(text, fmt).date().replace(day=1)
        except ValueError:
            continue
    raise ValidationError(f"'{text}' is not a month (use YYYY-MM).")


def cost_lines_clean(lines: Iterable[dict]) -> list[dict]:
    """Cost lines checked: a month each at most once, amounts not negative."""
    clean: list[dict] = []
    seen: set[datetime.date] = set()
    errors: list[str] = []
    for number, line in enumerate(lines, start=1):
        try:
            month = month_parse(line.get("month"))
        except ValidationError as exc:
            errors.append(f"Line {number}: {exc.messages[0]}")
            continue
        try:
            amount = Decimal(str(line.get("amount", "")).replace(",", "").strip())
        except InvalidOperation:
            errors.append(f"Line {number}: '{line.get('amount')}' is not an amount.")
            continue
        if not amount.is_finite() or amount < 0:
            errors.append(f"Line {number}: the amount must be 0 or more.")
            continue
        if month in seen:
            errors.append(f"Line {number}: {month:%Y-%m} appears twice.")
            continue
        seen.add(month)
        clean.append(
            {
                "month": month,
                "amount": amount.quantize(Decimal("0.01")),
                "note": str(line.get("note") or "")[:200],
            }
        )
    if errors:
        raise ValidationError({"cost_lines": errors})
    return sorted(clean, key=lambda line: line["month"])


def keys_clean(keys: Iterable[dict], campaign: Campaign | None = None) -> list[tuple[str, str]]:
    """Keys checked: a known kind, a value, and not already another campaign's."""
    kinds = set(CampaignKey.Kind.values)
    clean: list[tuple[str, str]] = []
    errors: list[str] = []
    for key in keys:
        kind, value = str(key.get("kind") or "").strip(), str(key.get("value") or "").strip().lower()
        if kind not in kinds:
            errors.append(f"'{kind}' is not a key kind (one of {', '.join(sorted(kinds))}).")
        elif not value or len(value) > 200:
            errors.append(f"A {kind} key needs a value of at most 200 characters.")
        elif (kind, value) not in clean:
            clean.append((kind, value))
    taken = CampaignKey.objects.filter(kind__in={k for k, _ in clean}, value__in={v for _, v in clean})
    if campaign is not None and campaign.pk:
        taken = taken.exclude(campaign=campaign)
    for key in taken.select_related("campaign"):
        if (key.kind, key.value) in clean:
            errors.append(f"{key.kind} '{key.value}' already ties events to {key.campaign.name}.")
    if errors:
        raise ValidationError({"keys": errors})
    return clean


def _details_set(
    campaign: Campaign, cost_lines: list[dict] | None, keys: list[tuple[str, str]] | None
) -> None:
    if cost_lines is not None:
        CampaignCost.objects.filter(campaign=campaign).delete()
        CampaignCost.objects.bulk_create([CampaignCost(campaign=campaign, **line) for line in cost_lines])
        if cost_lines:
            total = CampaignCost.objects.filter(campaign=campaign).aggregate(total=Sum("amount"))["total"]
            Campaign.objects.filter(pk=campaign.pk).update(cost=total)
            campaign.cost = total
    if keys is not None:
        CampaignKey.objects.filter(campaign=campaign).delete()
        CampaignKey.objects.bulk_create([CampaignKey(campaign=campaign, kind=k, value=v) for k, v in keys])


def _fields(data: dict) -> dict:
    unknown = set(data) - CAMPAIGN_FIELDS
    if unknown:
        raise ValidationError({name: "Not a campaign field." for name in sorted(unknown)})
    start, end = data.get("start_date"), data.get("end_date")
    if start and end and end < start:
        raise ValidationError({"end_date": "Must not be before the start date."})
    return data


@transaction.atomic
def campaign_create(
    *, actor, data: dict, cost_lines: Iterable[dict] | None = None, keys: Iterable[dict] | None = None
) -> Campaign:
    """A new campaign; with cost lines its cost is their sum."""
    lines = cost_lines_clean(cost_lines) if cost_lines is not None else None
    clean_keys = keys_clean(keys) if keys is not None else None
    campaign = object_create(model=Campaign, actor=actor, data=_fields(dict(data)))
    _details_set(campaign, lines, clean_keys)
    return campaign


@transaction.atomic
def campaign_update(
    *,
    actor,
    campaign: Campaign,
    data: dict,
    cost_lines: Iterable[dict] | None = None,
    keys: Iterable[dict] | None = None,
) -> Campaign:
    """Change a campaign; cost lines or keys given replace the stored ones (``None`` keeps them)."""
    data = dict(data)
    merged = {
        "start_date": data.get("start_date", campaign.start_date),
        "end_date": data.get("end_date", campaign.end_date),
    }
    _fields(data)
    _fields(merged)
    lines = cost_lines_clean(cost_lines) if cost_lines is not None else None
    clean_keys = keys_clean(keys, campaign) if keys is not None else None
    if lines:
        data.pop("cost", None)  # the lines decide it
    campaign = object_update(instance=campaign, actor=actor, data=data)
    _details_set(campaign, lines, clean_keys)
    return campaign
