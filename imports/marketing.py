"""Marketing's imports: campaigns, and the lists of static segments (a file of domains).

Unlike the other importers these write through the campaigns services — ``campaign_create`` and
``campaign_update`` (which check cost lines and keys and audit each campaign), ``campaign_target_set``,
``segment_create`` and ``static_members_set`` — one campaign or one segment at a time: a file holds tens or
hundreds of campaigns, not hundreds of thousands, and each gets its own audit record, as when it is edited
on its page. Pass 1 checks every row against what is stored by the same rules, so a file the services
would refuse is refused before anything is written; the services check again while writing, inside the
import's transaction, and a row they refuse fails the file (or, row by row, only itself).

Blank cells keep what is stored, as in every import: a month's cost cell sets that month's cost line and a
blank one keeps it; a key column replaces the campaign's keys of its kind, a blank cell keeps them.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Account, Campaign, CampaignCost, CampaignKey, Channel
from campaigns.choices import SegmentKind
from campaigns.measurement import campaign_target_set
from campaigns.models import CampaignTarget, Segment, SegmentMembership
from campaigns.segments import segment_create, static_members_set
from campaigns.services import campaign_create, campaign_update
from revops.models import Team

from .importers import INVALID, Importer, NameIndex, Row, name_key
from .mappings import MEMBER_MODES

KEY_FIELDS = {
    "utm_campaigns": CampaignKey.Kind.UTM_CAMPAIGN,
    "email_ids": CampaignKey.Kind.EMAIL_ID,
    "ad_ids": CampaignKey.Kind.AD_ID,
}
KEY_LABELS = dict(CampaignKey.Kind.choices)
# Campaign fields a file sets, as stored (foreign keys by id) and as the services take them.
FIELDS = (
    "name",
    "channel_id",
    "goal",
    "owner_team_id",
    "start_date",
    "end_date",
    "budget",
    "cost",
    "description",
)
DEFAULT_HOLDOUT = 0.10
DOMAINS_LISTED = 100  # domains without an account named one by one; the rest share one line
QUERY_CHUNK = 2_000  # values per IN (…) query


def _messages(exc: ValidationError) -> tuple[str, str]:
    """(the first field named, the messages in one sentence) of a service's refusal."""
    name = next(iter(exc.error_dict), "") if hasattr(exc, "error_dict") else ""
    return name, " ".join(m if m.endswith(".") else f"{m}." for m in exc.messages)


# --- campaigns -------------------------------------------------------------------------------------
@dataclass
class CampaignItem:
    """A campaign row, parsed: the fields it gives, its months' costs, keys and target."""

    row: int
    key: str
    pk: int | None
    values: dict[str, Any]
    months: dict[datetime.date, Decimal]
    keys: dict[str, tuple[str, ...]]  # key kind → the row's keys of that kind (kinds whose cell is filled)
    segment_id: int | None = None
    holdout: float | None = None


@dataclass
class CampaignPlan:
    """What writing a row changes; nothing for a row that changes nothing."""

    data: dict[str, Any] = field(default_factory=dict)
    cost_lines: list[dict] | None = None
    keys: list[dict] | None = None
    target: tuple[int | None, float] | None = None

    @property
    def changes(self) -> bool:
        return bool(self.data) or any(x is not None for x in (self.cost_lines, self.keys, self.target))


class CampaignImporter(Importer):
    """Campaigns, matched by name (ignoring case): channel, goal, team and segment by name or slug, costs
    by month from the columns whose headers hold a month, and the keys that tie events to a campaign."""

    kind = "campaigns"
    model = Campaign
    chunk_size = 500

    def load(self) -> None:
        self.channels = NameIndex(
            Channel.objects.values_list("id", "name", "slug"),
            "channel",
            "channels",
            "add it under Administration → Accounts → Channels first",
        )
        self.teams = NameIndex(
            Team.objects.values_list("id", "name", "slug"),
            "team",
            "teams",
            "teams are set up in Administration",
        )
        self.segments = NameIndex(
            Segment.objects.values_list("id", "name"),
            "segment",
            "segments",
            "create it on the Segments page, or import its list as segment members first",
        )
        self.stored: dict[str, dict] = {}
        self.ambiguous: dict[str, list[str]] = defaultdict(list)  # names stored in two spellings
        for campaign in Campaign.objects.values("id", *FIELDS):
            key = name_key(campaign["name"])
            if key in self.stored:
                self.ambiguous[key].append(campaign["name"])
            self.stored.setdefault(key, campaign)
        self.names = {c["id"]: c["name"] for c in self.stored.values()}
        self.key_owner = {
            (kind, value): campaign_id
            for kind, value, campaign_id in CampaignKey.objects.values_list("kind", "value", "campaign_id")
        }
        self.with_lines = set(CampaignCost.objects.values_list("campaign_id", flat=True).distinct())
        self.targets = {
            t["campaign_id"]: t
            for t in CampaignTarget.objects.values(
                "campaign_id", "segment_id", "holdout_share", "launched_at"
            )
        }
        self.month_columns = [
            (c.index, c.header, self.spec.field("cost_month").from_header(c.header))
            for c in self.ctx.mapping.columns
            if c.target == "cost_month"
        ]
        self.key_rows: dict[tuple[str, str], int] = {}

    def _months(self, row: Row) -> dict[datetime.date, Decimal] | object:
        """The row's cost by month, from the month columns; INVALID (errors recorded) if one is wrong."""
        parse = self.spec.field("cost_month").parse
        months: dict[datetime.date, Decimal] = {}
        header_of: dict[datetime.date, str] = {}
        ok = True
        for index, header, month in self.month_columns:
            raw = row.cells[index] if index < len(row.cells) else ""
            if not raw.strip():
                continue
            try:
                amount = parse(raw)
            except ValueError as exc:
                self.ctx.error(row, header, raw, str(exc))
                ok = False
                continue
            if month in months:
                self.ctx.error(
                    row,
                    header,
                    raw,
                    f"{month:%Y-%m} appears twice: column '{header_of[month]}' gives it too (fill one)",
                )
                ok = False
                continue
            months[month], header_of[month] = amount, header
        return months if ok else INVALID

    def parse(self, row: Row) -> CampaignItem | None:
        name = self.value(row, "name")
        values = {
            "channel_id": self.ref(row, "channel", self.channels.resolve),
            "goal": self.value(row, "goal"),
            "owner_team_id": self.ref(row, "owner_team", self.teams.resolve),
            "start_date": self.value(row, "start_date"),
            "end_date": self.value(row, "end_date"),
            "budget": self.value(row, "budget"),
            "cost": self.value(row, "cost"),
            "description": self.value(row, "description"),
        }
        segment_id = self.ref(row, "segment", self.segments.resolve)
        holdout = self.value(row, "holdout_share")
        keys = {kind: self.value(row, name_) for name_, kind in KEY_FIELDS.items()}
        months = self._months(row)
        if name is INVALID:
            return None
        if name_key(name) in self.ambiguous:
            spellings = sorted([self.stored[name_key(name)]["name"], *self.ambiguous[name_key(name)]])
            listed = ", ".join(f"'{n}'" for n in spellings)
            self.ctx.error(
                row, "name", name, f"campaigns {listed} differ only in case: rename one of them first"
            )
            return None
        # Every check whose cells were read, so that the report lists each problem of the row at once.
        stored = self.stored.get(name_key(name))
        pk = stored["id"] if stored else None
        if stored is None and values["channel_id"] is None:
            self.ctx.error(
                row, "channel", self.raw(row, "channel"), "a new campaign needs a channel (its slug or name)"
            )
        if INVALID not in (values["start_date"], values["end_date"]):
            self._check_dates(row, values, stored)
        self._check_keys(row, keys, pk)
        if INVALID not in (segment_id, holdout):
            self._check_target(row, pk, segment_id, holdout)
        if row.number in self.ctx.bad_rows:
            return None
        if values["cost"] is not None and (months or pk in self.with_lines):
            self.ctx.warn(
                row, "cost", "not written: the campaign has cost lines by month, and costs their sum"
            )
            values["cost"] = None
        values = {k: v for k, v in values.items() if v is not None}
        values["name"] = name
        return CampaignItem(
            row=row.number,
            key=name_key(name),
            pk=pk,
            values=values,
            months=months,
            keys={kind: given for kind, given in keys.items() if given is not None},
            segment_id=segment_id,
            holdout=holdout,
        )

    def _check_dates(self, row: Row, values: dict, stored: dict | None) -> None:
        start = values["start_date"] or (stored or {}).get("start_date")
        end = values["end_date"] or (stored or {}).get("end_date")
        if not (start and end and end < start):
            return
        if values["end_date"] is not None:
            stored_start = " (the stored one)" if values["start_date"] is None else ""
            reason = f"is before the start date {start.isoformat()}{stored_start}"
            self.ctx.error(row, "end_date", self.raw(row, "end_date"), reason)
        else:
            reason = f"is after the stored end date {end.isoformat()}"
            self.ctx.error(row, "start_date", self.raw(row, "start_date"), reason)

    def _check_keys(self, row: Row, keys: dict[str, Any], pk: int | None) -> None:
        for name, kind in KEY_FIELDS.items():
            if keys[kind] is INVALID:
                continue
            for value in keys[kind] or ():
                owner = self.key_owner.get((kind, value))
                if owner is not None and owner != pk:
                    self.ctx.error(
                        row,
                        name,
                        value,
                        f"{KEY_LABELS[kind]} '{value}' already ties events to the campaign "
                        f"'{self.names.get(owner, owner)}' (remove it there first)",
                    )

    def _check_target(self, row: Row, pk: int | None, segment_id: int | None, holdout: float | None) -> None:
        target = self.targets.get(pk) if pk else None
        if target is None or not target["launched_at"] or (segment_id is None and holdout is None):
            return
        segment = target["segment_id"] if segment_id is None else segment_id
        share = target["holdout_share"] if holdout is None else holdout
        if (segment, share) != (target["segment_id"], target["holdout_share"]):
            name = "segment" if segment != target["segment_id"] else "holdout_share"
            self.ctx.error(
                row,
                name,
                self.raw(row, name),
                f"the campaign was launched on {target['launched_at']:%Y-%m-%d}: its target segment and "
                "holdout are recorded and no longer change",
            )

    def register(self, row: Row, item: CampaignItem) -> None:
        self.unique(row, item.key, "name", "campaign name (ignoring case)")
        for name, kind in KEY_FIELDS.items():
            for value in item.keys.get(kind, ()):
                first = self.key_rows.setdefault((kind, value), row.number)
                if first != row.number:
                    self.ctx.error(
                        row,
                        name,
                        value,
                        f"row {first} gives the same {KEY_LABELS[kind]}: a key ties events to one campaign",
                    )

    # -- pass 2
    def write(self, items: list[CampaignItem], *, write: bool) -> None:
        pks = [i.pk for i in items if i.pk]
        lines: dict[int, dict[datetime.date, tuple[Decimal, str]]] = defaultdict(dict)
        for campaign_id, month, amount, note in CampaignCost.objects.filter(campaign_id__in=pks).values_list(
            "campaign_id", "month", "amount", "note"
        ):
            lines[campaign_id][month] = (amount, note)
        keys: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for campaign_id, kind, value in CampaignKey.objects.filter(campaign_id__in=pks).values_list(
            "campaign_id", "kind", "value"
        ):
            keys[campaign_id].add((kind, value))
        plans = [self._plan(item, lines.get(item.pk, {}), keys.get(item.pk, set())) for item in items]
        if write:
            campaigns = Campaign.objects.in_bulk(pks)
            channels = Channel.objects.in_bulk({p.data["channel"] for p in plans if "channel" in p.data})
            teams = Team.objects.in_bulk({p.data["owner_team"] for p in plans if "owner_team" in p.data})
            segments = Segment.objects.in_bulk({p.target[0] for p in plans if p.target and p.target[0]})
        report = self.ctx.report
        for item, plan in zip(items, plans, strict=True):
            if item.pk is not None and not plan.changes:
                report.unchanged += 1
                continue
            if write:
                data = dict(plan.data)
                if "channel" in data:
                    data["channel"] = channels[data["channel"]]
                if "owner_team" in data:
                    data["owner_team"] = teams[data["owner_team"]]
                try:
                    # A savepoint per campaign: row by row, a campaign refused leaves the others written.
                    with transaction.atomic():
                        self._save(plan, data, campaigns.get(item.pk), segments)
                except ValidationError as exc:
                    self._refused(item, exc)
                    continue
            if item.pk is None:
                report.created += 1
            else:
                report.updated += 1

    def _plan(
        self, item: CampaignItem, lines: dict[datetime.date, tuple[Decimal, str]], keys: set[tuple[str, str]]
    ) -> CampaignPlan:
        stored = self.stored.get(item.key) if item.pk else None
        plan = CampaignPlan()
        for name, value in item.values.items():
            if stored is None or stored[name] != value:
                plan.data[name.removesuffix("_id")] = value
        if item.months:
            merged = dict(lines)
            for month, amount in item.months.items():
                merged[month] = (amount, lines.get(month, (None, ""))[1])
            if merged != lines:
                plan.cost_lines = [
                    {"month": month, "amount": amount, "note": note}
                    for month, (amount, note) in sorted(merged.items())
                ]
        if item.keys:
            wanted = {(kind, v) for kind, values in item.keys.items() for v in values}
            merged_keys = {(kind, v) for kind, v in keys if kind not in item.keys} | wanted
            if merged_keys != keys:
                plan.keys = [{"kind": kind, "value": v} for kind, v in sorted(merged_keys)]
        if item.segment_id is not None or item.holdout is not None:
            target = self.targets.get(item.pk) if item.pk else None
            segment = item.segment_id if item.segment_id is not None else (target or {}).get("segment_id")
            share = item.holdout
            if share is None:
                share = target["holdout_share"] if target else DEFAULT_HOLDOUT
            if target is None or (segment, share) != (target["segment_id"], target["holdout_share"]):
                plan.target = (segment, share)
        return plan

    def _save(
        self,
        plan: CampaignPlan,
        data: dict[str, Any],
        campaign: Campaign | None,
        segments: dict[int, Segment],
    ) -> Campaign:
        actor = self.ctx.actor
        if campaign is None:
            campaign = campaign_create(actor=actor, data=data, cost_lines=plan.cost_lines, keys=plan.keys)
        else:
            campaign = campaign_update(
                actor=actor, campaign=campaign, data=data, cost_lines=plan.cost_lines, keys=plan.keys
            )
        if plan.target is not None:
            segment_id, share = plan.target
            campaign_target_set(
                actor=actor,
                campaign=campaign,
                segment=segments.get(segment_id) if segment_id else None,
                holdout_share=share,
            )
        return campaign

    def _refused(self, item: CampaignItem, exc: ValidationError) -> None:
        """A row the services refused while writing (something changed since pass 1): its error."""
        name, reason = _messages(exc)
        if name == "keys":
            name = next((f for f, kind in KEY_FIELDS.items() if kind in item.keys), "name")
        elif name == "cost_lines":
            name = self.month_columns[0][1] if self.month_columns else "name"
        elif name not in self.index:
            name = "name"
        self.ctx.error(item.row, name, "", reason)


# --- segment members ---------------------------------------------------------------------------------
@dataclass
class MemberItem:
    row: int
    segment: str  # the segment's key (name_key)
    name: str
    domain: str


class SegmentMembersImporter(Importer):
    """A static segment's list from a file of domains: created if it does not exist, then its list
    replaced (or added to, or removed from) with the accounts of those domains; domains no account has are
    listed in the report and left out. A file may hold several segments (a segment column)."""

    kind = "segment_members"
    model = Segment
    chunk_size = 5_000

    def load(self) -> None:
        options = self.ctx.options
        self.mode = options.get("members", MEMBER_MODES[0])  # checked by ``options_check``
        self.default = options.get("segment", "")
        self.stored = {
            name_key(name): (pk, name, kind)
            for pk, name, kind in Segment.objects.values_list("id", "name", "kind")
        }
        self.segment_names: dict[str, str] = {}  # segment key → its name as first given
        self.segment_rows: dict[str, int] = {}  # segment key → its first row
        self.domain_rows: dict[tuple[str, str], int] = {}  # (segment key, domain) → first row
        self.account_of: dict[str, int] = {}  # domain → account id
        self.members: dict[str, dict[int, int]] = defaultdict(dict)  # segment key → account → first row
        self.rows_written = 0

    def parse(self, row: Row) -> MemberItem | None:
        domain = self.value(row, "domain")
        segment = self.value(row, "segment") or self.default or None
        if domain is INVALID or segment is INVALID:
            return None
        if segment is None:
            self.ctx.error(
                row,
                "segment",
                "",
                "names no segment: fill the segment column, or name the segment for the whole file "
                "(--segment, or Segment on the upload page)",
            )
            return None
        key = name_key(segment)
        stored = self.stored.get(key)
        if stored is not None and stored[2] != SegmentKind.STATIC:
            self.ctx.error(
                row,
                "segment",
                segment,
                f"'{stored[1]}' is a dynamic segment (criteria): only a static segment has a list",
            )
            return None
        return MemberItem(row=row.number, segment=key, name=stored[1] if stored else segment, domain=domain)

    def register(self, row: Row, item: MemberItem) -> None:
        self.segment_names.setdefault(item.segment, item.name)
        self.segment_rows.setdefault(item.segment, row.number)
        first = self.domain_rows.setdefault((item.segment, item.domain), row.number)
        if first != row.number:
            self.ctx.warn(row, "domain", "listed more than once for the same segment: counted once")

    def validate_all(self) -> None:
        ctx, report = self.ctx, self.ctx.report
        domains = sorted({domain for _, domain in self.domain_rows})
        for start in range(0, len(domains), QUERY_CHUNK):
            chunk = domains[start : start + QUERY_CHUNK]
            self.account_of.update(Account.objects.filter(domain__in=chunk).values_list("domain", "id"))
        column = ctx.column("domain")
        listed: set[str] = set()
        missing = 0
        matched: dict[str, int] = defaultdict(int)
        for (segment, domain), number in self.domain_rows.items():
            if number in ctx.bad_rows:
                continue
            if domain in self.account_of:
                matched[segment] += 1
                continue
            missing += 1
            message = f"no account has the domain {domain}: left out of the list"
            if message not in listed and len(listed) >= DOMAINS_LISTED:
                message = "more domains no account has: left out of the list"
            listed.add(message)
            report.add_warning(row=number, column=column, message=message)
        if missing:
            report.extra["domains_without_account"] = missing
        for segment, name in self.segment_names.items():
            if segment not in self.stored:
                report.add_warning(
                    row=self.segment_rows[segment],
                    column=ctx.column("segment"),
                    message=f"segment '{name}' does not exist: created as a static segment",
                )
            if self.mode == "replace" and not matched[segment]:
                report.add_note(
                    f"No domain listed for the segment '{name}' is an account's: replacing its list "
                    "empties it."
                )

    def write(self, items: list[MemberItem], *, write: bool) -> None:
        for item in items:
            self.rows_written += 1
            account = self.account_of.get(item.domain)
            if account is not None:
                self.members[item.segment].setdefault(account, item.row)

    def finish(self, *, write: bool) -> None:
        report = self.ctx.report
        extra = {"segments_created": 0, "accounts_joined": 0, "accounts_left": 0, "members_after": 0}
        changed_rows = 0
        for segment, name in self.segment_names.items():
            wanted = self.members.get(segment, {})
            stored = self.stored.get(segment)
            current: set[int] = set()
            if stored is not None:
                current = set(
                    SegmentMembership.objects.filter(segment_id=stored[0], left_at__isnull=True).values_list(
                        "account_id", flat=True
                    )
                )
            ids = set(wanted)
            if self.mode == "replace":
                joining, leaving = ids - current, current - ids
            elif self.mode == "add":
                joining, leaving = ids - current, set()
            else:
                joining, leaving = set(), current & ids
            if write:
                try:
                    with transaction.atomic():
                        self._save(stored, name, ids, changed=bool(joining or leaving))
                except ValidationError as exc:
                    self.ctx.error(self.segment_rows[segment], "segment", name, _messages(exc)[1])
                    continue
            extra["segments_created"] += int(stored is None)
            extra["accounts_joined"] += len(joining)
            extra["accounts_left"] += len(leaving)
            extra["members_after"] += len(current) + len(joining) - len(leaving)
            report.created += len(joining)
            report.updated += len(leaving & ids)  # rows that took their account off the list
            changed_rows += len(joining) + len(leaving & ids)
        report.unchanged += max(self.rows_written - changed_rows, 0)
        report.extra.update(extra)

    def _save(self, stored: tuple | None, name: str, ids: set[int], *, changed: bool) -> None:
        actor = self.ctx.actor
        if stored is None:
            segment = segment_create(actor=actor, data={"name": name, "kind": SegmentKind.STATIC})
        elif changed:
            segment = Segment.objects.get(pk=stored[0])
        else:
            return
        if changed:
            static_members_set(actor=actor, segment=segment, account_ids=ids, mode=self.mode)
