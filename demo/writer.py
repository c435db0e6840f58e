"""Writes the generated demo world with set-based writes: explicit ids, COPY on PostgreSQL.

Every table gets explicit ids starting after its current maximum, so the same arguments on the same
database give identical rows, ids included; PostgreSQL sequences are moved past them at the end.
Reference data (personas, technologies, products, sales agents, campaigns, segments) is matched by natural
key and only the missing rows are inserted. A campaign the run inserts also gets what measures it: its
target segment and holdout (``CampaignTarget``: launched on its start day, with the seed that draws the
holdout again), its audience (treated and held-out accounts, per chunk), its utm_campaign key, monthly
cost lines and budget, and the generator's true effect (``CampaignGroundTruth``, at the end).

PostgreSQL: COPY in text format, built column by column. Loading into empty tables as a superuser,
the whole run is one transaction with foreign-key triggers off and the big tables' secondary indexes
dropped and rebuilt at the end (a crash leaves nothing behind); otherwise one transaction per chunk.
SQLite: one prepared INSERT per table and chunk (``executemany``), in one transaction per chunk.
"""

import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction

from accounts.models import (
    Account,
    AccountActivityDaily,
    Campaign,
    CampaignCost,
    CampaignKey,
    Channel,
    Contact,
    ContactActivityDaily,
    EngagementEvent,
    Opportunity,
    Persona,
    Product,
    SalesAgent,
    Technology,
    Territory,
)
from campaigns.choices import AudienceGroup, SegmentKind
from campaigns.models import CampaignAudience, CampaignGroundTruth, CampaignTarget, Segment
from campaigns.segments import criteria_clean
from revops import services
from revops.audit import change_record_create
from revops.bulk import bulk_insert, is_postgres
from revops.choices import ChangeAction, TeamKind
from revops.models import Membership, Team
from scoring.choices import Band
from scoring.models import DemoGroundTruth, LifecycleTransition

from . import catalogue as cat
from . import generator as gen
from .management.commands.demo_users import DEMO_USERS

# Enterprise accounts (this many employees or more) belong to sales, the rest to BDR/SDR: the demo's
# owners and its territories follow the same rule.
ENTERPRISE_EMPLOYEES = 1000
DEMO_TERRITORIES = [
    # (name, priority, employees at least, team kind)
    ("Enterprise (1,000+ employees)", 10, ENTERPRISE_EMPLOYEES, str(TeamKind.SALES)),
    ("Everyone else", 100, None, str(TeamKind.BDR)),
]
TEAM_NAMES = {
    TeamKind.MARKETING: "Marketing",
    TeamKind.SALES: "Sales",
    TeamKind.BDR: "BDR/SDR",
    TeamKind.CUSTOMER_SUCCESS: "Customer Success",
    TeamKind.REVENUE_OPERATIONS: "Revenue Operations",
}
TEAM_DESCRIPTIONS = {
    TeamKind.MARKETING: "Demand generation, campaigns and the website.",
    TeamKind.SALES: "Account executives and sales leadership.",
    TeamKind.BDR: "Business and sales development: outbound cadences and meetings.",
    TeamKind.CUSTOMER_SUCCESS: "Onboarding, adoption, renewals and expansion.",
    TeamKind.REVENUE_OPERATIONS: "Definitions, scoring, data and the systems behind the revenue team.",
}
SEEDED_MODELS = [
    Technology,
    Persona,
    Product,
    SalesAgent,
    Campaign,
    Account,
    Account.technologies.through,
    Contact,
    Opportunity,
    EngagementEvent,
    AccountActivityDaily,
    ContactActivityDaily,
    DemoGroundTruth,
    LifecycleTransition,
    Segment,
    CampaignTarget,
    CampaignAudience,
    CampaignCost,
    CampaignKey,
]


class SeedRefused(Exception):
    """The database is not in a state the seeder may write to (e.g. it already has accounts)."""


@dataclass
class SeedResult:
    """What a seed run wrote, and how long the generation and the writes took."""

    counts: dict[str, int] = field(default_factory=dict)
    generate_seconds: float = 0.0
    write_seconds: float = 0.0
    total_seconds: float = 0.0
    start: dt.date | None = None
    end: dt.date | None = None

    def add(self, name: str, count: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + count


def _timestamp(day: dt.date, seconds: int = 0) -> str:
    value = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
    return _format_times(np.array([np.datetime64(value, "s")]))[0]


def _format_times(values: np.ndarray) -> np.ndarray:
    """datetime64[s] (UTC) → the text each backend stores for an aware datetime."""
    text = np.datetime_as_string(values.astype("datetime64[s]"), unit="s")
    text = np.char.replace(text, "T", " ")
    if is_postgres():
        text = np.char.add(text, "+00:00")
    return text.astype(object)


def _format_days(days: np.ndarray) -> np.ndarray:
    """Epoch days → 'YYYY-MM-DD'."""
    return np.datetime_as_string(np.asarray(days, dtype="int64").astype("datetime64[D]"), unit="D").astype(
        object
    )


def _nullable(values: np.ndarray, base: int = 0) -> list:
    """Local indexes (-1 for none) → ids (None for none)."""
    values = np.asarray(values, dtype=np.int64)
    out = (values + base).astype(object)
    out[values < 0] = None
    return out.tolist()


def _max_id(model) -> int:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {table}")
        return cursor.fetchone()[0] or 0


def _insert(model, columns: list[str], data: list[list]) -> int:
    """Column lists → the table: COPY on PostgreSQL, one prepared INSERT (executemany) on SQLite."""
    if not data or not len(data[0]):
        return 0
    if is_postgres():
        return _copy_columns(model._meta.db_table, columns, data)
    return _sqlite_insert(model._meta.db_table, columns, data)


def _sqlite_insert(table: str, columns: list[str], data: list[list]) -> int:
    """One prepared INSERT run over all rows with ``executemany``.

    Below Django's cursor wrapper on purpose: with DEBUG on (the embedded default) the wrapper logs
    and re-quotes every statement, which cost more than the inserts themselves.
    """
    data = [
        [json.dumps(v, separators=(",", ":")) if isinstance(v, dict | list) else v for v in col]
        if isinstance(next((v for v in col if v is not None), None), dict | list)
        else col
        for col in data
    ]
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(table)} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        cursor.cursor.executemany(sql, zip(*data, strict=True))
    return len(data[0])


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_BLOCK = 50_000


def _copy_text_column(values: list) -> list[str]:
    """One column in COPY's text format: NULL is \\N, JSON as text, special characters escaped."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, dict | list):
        return [
            "\\N" if v is None else json.dumps(v, separators=(",", ":")).translate(_COPY_ESCAPES)
            for v in values
        ]
    if isinstance(sample, bool):
        return ["\\N" if v is None else ("t" if v else "f") for v in values]
    if isinstance(sample, str):
        text = ["\\N" if v is None else v for v in values]
        joined = "".join(v for v in values if v is not None)
        if any(ch in joined for ch in "\\\t\n\r"):
            text = [t if v is None else t.translate(_COPY_ESCAPES) for t, v in zip(text, values, strict=True)]
        return text
    return ["\\N" if v is None else str(v) for v in values]


def _copy_columns(table: str, columns: list[str], data: list[list]) -> int:
    """COPY column lists in text format, built column-wise.

    ``revops.bulk.bulk_insert`` converts value by value, which made the client the bottleneck at
    ten million events; building each column's text at once is several times faster.
    """
    texts = [_copy_text_column(col) for col in data]
    n = len(texts[0])
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    sql = f"COPY {connection.ops.quote_name(table)} ({cols}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for start in range(0, n, COPY_BLOCK):
            block = zip(*(t[start : start + COPY_BLOCK] for t in texts), strict=True)
            copy.write("\n".join(map("\t".join, block)) + "\n")
    return n


class DemoWriter:
    """Writes one demo world: ``prepare()`` the reference data, ``write(chunk)`` each chunk, ``finish()``."""

    def __init__(self, spec: gen.Spec, plan: gen.Plan):
        self.spec, self.plan = spec, plan
        self.result = SeedResult(start=spec.start, end=spec.end)
        self.next_id: dict = {}
        self.checked_tables: set = set()
        self.created = _timestamp(spec.start)

    # --- reference data -------------------------------------------------------------------
    @transaction.atomic
    def prepare(self) -> None:
        """Teams, channels and reference rows; ids the chunks will need."""
        if connection.vendor == "sqlite":
            # The event indexes are updated in random order: a large page cache keeps that in memory.
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size = -262144")  # KiB, this connection only
        self.skip_fk_checks = False
        if is_postgres():
            with connection.cursor() as cursor:
                cursor.execute("SHOW is_superuser")
                self.skip_fk_checks = cursor.fetchone()[0] == "on"
        self.next_id = {model: _max_id(model) + 1 for model in SEEDED_MODELS}
        # Tables that held rows before the run may collide on natural keys: check those chunks.
        self.checked_tables = {m for m in (Account, Contact) if self.next_id[m] > 1}
        self.teams = self._teams()
        self.owners = self._owners()
        self._territories()
        self.channels = dict(Channel.objects.values_list("slug", "id"))
        missing = sorted(set(cat.CHANNELS) - set(self.channels))
        if missing:
            raise SeedRefused(f"Channels missing (run migrate first): {', '.join(missing)}")
        c = self.created
        self.technologies = self._reference(
            Technology,
            "name",
            [t[0] for t in cat.TECHNOLOGIES],
            ["created", "updated", "name", "category"],
            [[c, c, t[0], t[1]] for t in cat.TECHNOLOGIES],
        )
        self.personas = self._reference(
            Persona,
            "name",
            [p["name"] for p in cat.PERSONAS],
            [
                "created",
                "updated",
                "name",
                "biography",
                "demographics",
                "behaviours",
                "interests",
                "needs",
                "pain_points",
                "buying_role",
                "match_titles",
                "match_seniorities",
                "match_departments",
                "required_in_buying_team",
                "priority",
            ],
            [
                [
                    c,
                    c,
                    p["name"],
                    p["biography"],
                    p["demographics"],
                    p["behaviours"],
                    p["interests"],
                    p["needs"],
                    p["pain_points"],
                    p["buying_role"],
                    p["match_titles"],
                    p["match_seniorities"],
                    p["match_departments"],
                    p["core"],
                    p["priority"],
                ]
                for p in cat.PERSONAS
            ],
        )
        self.products = self._reference(
            Product,
            "name",
            [p[0] for p in cat.PRODUCTS],
            ["created", "updated", "name", "key", "series", "list_price"],
            [[c, c, p[0], p[1], p[2], p[3]] for p in cat.PRODUCTS],
        )
        agents = [(name, manager, office) for manager, office, names in cat.SALES_TEAMS for name in names]
        self.agents = self._reference(
            SalesAgent,
            "name",
            [a[0] for a in agents],
            ["created", "updated", "name", "manager", "regional_office"],
            [[c, c, *a] for a in agents],
        )
        camps = self.plan.campaigns
        start = self.spec.start
        taken = set(Campaign.objects.filter(name__in=camps["name"].tolist()).values_list("name", flat=True))
        self.fresh = ~camps["name"].isin(taken).to_numpy()  # campaigns this run creates (and measures)
        self.campaigns = self._reference(
            Campaign,
            "name",
            camps["name"].tolist(),
            [
                "created",
                "updated",
                "name",
                "channel_id",
                "goal",
                "description",
                "start_date",
                "end_date",
                "cost",
                "budget",
                "owner_team_id",
            ],
            [
                [
                    _timestamp(start + dt.timedelta(days=int(row.start_day) - 14)),
                    _timestamp(start + dt.timedelta(days=int(row.start_day) - 14)),
                    row.name,
                    self.channels[row.channel],
                    row.goal,
                    row.description,
                    (start + dt.timedelta(days=int(row.start_day))).isoformat(),
                    (start + dt.timedelta(days=int(row.end_day))).isoformat(),
                    int(row.cost),
                    int(row.budget),
                    self.teams.get(row.team),
                ]
                for row in camps.itertuples()
            ],
        )
        self.launched = [_timestamp(start + dt.timedelta(days=int(d))) for d in camps["start_day"]]
        self.effects = np.zeros((len(camps), 3))  # treated, held out, sum of the indirect effect
        self._measured_campaigns()

    # --- what measures the campaigns --------------------------------------------------------
    def _segment_criteria(self, segment: dict) -> dict:
        """A template's targeting as the criteria of a dynamic segment (``SegmentCriteriaFilterSet``)."""
        criteria: dict[str, list[str]] = {}
        if segment.get("customers"):
            criteria["deal"] = ["customer"]
        if segment.get("industries"):
            criteria["industry_in"] = list(segment["industries"])
        if segment.get("min_emp"):
            criteria["employees_min"] = [str(segment["min_emp"])]
        if segment.get("max_emp"):
            criteria["employees_max"] = [str(segment["max_emp"])]
        if segment.get("tech"):
            criteria["technology"] = [
                str(self.technologies[i]) for i, t in enumerate(cat.TECHNOLOGIES) if t[1] == segment["tech"]
            ]
        if segment.get("fit"):  # the generator targets by the hidden fit; the platform sees its band
            criteria["fit_band"] = [Band.HIGH.value, Band.MEDIUM.value]
        return criteria_clean(criteria)

    def _measured_campaigns(self) -> None:
        """Segments, targets, keys and cost lines of the campaigns this run creates."""
        camps = self.plan.campaigns
        c = self.created
        seen: dict[str, tuple[dict, str]] = {}
        for row in camps.itertuples():
            seen.setdefault(row.segment_name, (self._segment_criteria(row.segment), row.team))
        names = sorted(seen)
        segment_ids = self._reference(
            Segment,
            "name",
            names,
            [
                "created",
                "updated",
                "name",
                "description",
                "kind",
                "criteria",
                "version",
                "owner_team_id",
                "member_count",
            ],
            [
                [
                    c,
                    c,
                    name,
                    "What the demo's campaigns on it target; each reaches a random share of it.",
                    SegmentKind.DYNAMIC.value,
                    seen[name][0],
                    1,
                    self.teams.get(seen[name][1]),
                    0,
                ]
                for name in names
            ],
        )
        segment_of = dict(zip(names, segment_ids.tolist(), strict=True))
        fresh = np.flatnonzero(self.fresh)
        if not len(fresh):
            return
        rows = camps.iloc[fresh]
        ids = self.campaigns[fresh].tolist()
        launched = [self.launched[i] for i in fresh]
        k = len(fresh)
        base = self._take(CampaignTarget, k)
        self.result.add(
            "campaign targets",
            _insert(
                CampaignTarget,
                [
                    "id",
                    "created",
                    "updated",
                    "campaign_id",
                    "segment_id",
                    "holdout_share",
                    "seed",
                    "launched_at",
                    "segment_version",
                ],
                [
                    (base + np.arange(k)).tolist(),
                    launched,
                    launched,
                    ids,
                    [segment_of[name] for name in rows["segment_name"]],
                    [cat.CAMPAIGN_HOLDOUT] * k,
                    [int(v) for v in rows["holdout_seed"]],
                    launched,
                    [1] * k,
                ],
            ),
        )
        utm = CampaignKey.Kind.UTM_CAMPAIGN
        taken = set(
            CampaignKey.objects.filter(kind=utm, value__in=rows["slug"].tolist()).values_list(
                "value", flat=True
            )
        )
        free = [(i, slug) for i, slug in zip(ids, rows["slug"], strict=True) if slug not in taken]
        base = self._take(CampaignKey, len(free))
        self.result.add(
            "campaign keys",
            _insert(
                CampaignKey,
                ["id", "campaign_id", "kind", "value"],
                [
                    (base + np.arange(len(free))).tolist(),
                    [i for i, _ in free],
                    [utm.value] * len(free),
                    [slug for _, slug in free],
                ],
            ),
        )
        lines = [
            (campaign_id, month, amount)
            for campaign_id, row in zip(ids, rows.itertuples(), strict=True)
            for month, amount in _cost_lines(self.spec.start, row.start_day, row.last_day, int(row.cost))
        ]
        base = self._take(CampaignCost, len(lines))
        self.result.add(
            "campaign cost lines",
            _insert(
                CampaignCost,
                ["id", "campaign_id", "month", "amount", "note"],
                [
                    (base + np.arange(len(lines))).tolist(),
                    [line[0] for line in lines],
                    [line[1] for line in lines],
                    [line[2] for line in lines],
                    ["Demo: pro rata to the days it ran"] * len(lines),
                ],
            ),
        )

    def _teams(self) -> dict[str, int]:
        """The five revenue teams, created when missing (audited, through the service)."""
        teams = {}
        for kind, name in TEAM_NAMES.items():
            team = (
                Team.objects.filter(kind=kind).order_by("id").first()
                or Team.objects.filter(name=name).first()
            )
            if team is None:
                team = services.team_create(
                    actor=None, name=name, kind=kind, description=TEAM_DESCRIPTIONS[kind]
                )
            teams[str(kind)] = team.pk
        return teams

    def _owners(self) -> dict[str, np.ndarray]:
        """The demo's sales and BDR/SDR people (``demo_users`` names them; created here without a usable
        password when missing, so ``demo_users`` later only sets theirs): team kind → user ids."""
        User = get_user_model()
        owners: dict[str, list[int]] = {str(TeamKind.SALES): [], str(TeamKind.BDR): []}
        for username, first_name, kind, _team_name, role in DEMO_USERS:
            if str(kind) not in owners:
                continue
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first_name,
                    "last_name": "Demo",
                    "email": f"{username}@demo.example.com",
                },
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            if not Membership.objects.filter(user=user, team_id=self.teams[str(kind)]).exists():
                team = Team.objects.get(pk=self.teams[str(kind)])
                services.membership_set(actor=None, user=user, team=team, role=role)
            owners[str(kind)].append(user.pk)
        return {kind: np.array(sorted(ids), dtype=np.int64) for kind, ids in owners.items()}

    def _territories(self) -> None:
        """Two territories, as routing reads them: enterprise accounts to sales, the rest to BDR/SDR (the
        same rule the demo's own owners follow, so new accounts join the world the same way)."""
        for name, priority, employees_min, kind in DEMO_TERRITORIES:
            Territory.objects.get_or_create(
                name=name,
                defaults={"priority": priority, "employees_min": employees_min, "team_id": self.teams[kind]},
            )

    def _account_owners(self, employees: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each account's (owner, owning team): sales for enterprise accounts, BDR/SDR for the rest, its
        people in turn by account id (deterministic)."""
        enterprise = employees >= ENTERPRISE_EMPLOYEES
        sales, bdr = self.owners[str(TeamKind.SALES)], self.owners[str(TeamKind.BDR)]
        owner = np.where(enterprise, sales[ids % len(sales)], bdr[ids % len(bdr)])
        team = np.where(enterprise, self.teams[str(TeamKind.SALES)], self.teams[str(TeamKind.BDR)])
        return owner, team

    def _reference(self, model, key: str, keys: list, columns: list[str], rows: list[list]) -> np.ndarray:
        """Insert the rows whose natural key is missing (explicit ids); return ids in catalogue order."""
        existing = dict(model.objects.filter(**{f"{key}__in": keys}).values_list(key, "id"))
        fresh = [(k, row) for k, row in zip(keys, rows, strict=True) if k not in existing]
        first = self.next_id[model]
        for offset, (k, _) in enumerate(fresh):
            existing[k] = first + offset
        if fresh:
            bulk_insert(
                model._meta.db_table,
                ["id", *columns],
                ([first + offset, *row] for offset, (_, row) in enumerate(fresh)),
            )
            self.next_id[model] = first + len(fresh)
            self.result.add(str(model._meta.verbose_name_plural), len(fresh))
        return np.array([existing[k] for k in keys], dtype=np.int64)

    # --- one chunk ------------------------------------------------------------------------
    def _take(self, model, count: int) -> int:
        first = self.next_id[model]
        self.next_id[model] = first + count
        return first

    @transaction.atomic
    def write(self, chunk: gen.Chunk) -> None:
        """Write one chunk of accounts and everything hanging off them."""
        if not self.skip_fk_checks:
            self._write(chunk)
            return
        # The generator's rows are consistent by construction; checking millions of deferred foreign
        # keys at commit would add half again to the load (pg_restore --disable-triggers does the
        # same). Restored right after, so a caller's own writes in the transaction are checked.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
        try:
            self._write(chunk)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = DEFAULT")

    def _write(self, chunk: gen.Chunk) -> None:
        c = self.created
        acc = chunk.accounts
        n = len(acc)
        acc_base = self._take(Account, n)
        acc_ids = acc_base + np.arange(n)
        con = chunk.contacts
        con_base = self._take(Contact, len(con))
        if Account in self.checked_tables or Contact in self.checked_tables:
            self._avoid_collisions(chunk, acc_base, con_base)
        employees = acc["employee_count"].fillna(0).to_numpy(dtype=np.int64)
        acc_owner, acc_team = self._account_owners(employees, acc_ids)

        self.result.add(
            "accounts",
            _insert(
                Account,
                [
                    "id",
                    "created",
                    "updated",
                    "name",
                    "domain",
                    "industry",
                    "employee_count",
                    "annual_revenue",
                    "founded_year",
                    "country",
                    "parent_id",
                    "owner_id",
                    "owner_team_id",
                    "custom",
                ],
                [
                    acc_ids.tolist(),
                    [c] * n,
                    [c] * n,
                    acc["name"].tolist(),
                    acc["domain"].tolist(),
                    acc["industry"].tolist(),
                    acc["employee_count"].tolist(),
                    acc["annual_revenue"].tolist(),
                    acc["founded_year"].tolist(),
                    acc["country"].tolist(),
                    _nullable(acc["parent"].to_numpy(), acc_base),
                    acc_owner.tolist(),
                    acc_team.tolist(),
                    [{}] * n,
                ],
            ),
        )
        at = chunk.account_technologies
        through = Account.technologies.through
        at_base = self._take(through, len(at))
        self.result.add(
            "account technologies",
            _insert(
                through,
                ["id", "account_id", "technology_id"],
                [
                    (at_base + np.arange(len(at))).tolist(),
                    (acc_base + at["account"].to_numpy()).tolist(),
                    self.technologies[at["technology"].to_numpy()].tolist(),
                ],
            ),
        )
        m = len(con)
        persona = con["persona"].to_numpy()
        # People follow their account's owner; those without an account (free mail) go to BDR/SDR in turn.
        at = con["account"].to_numpy()
        has = at >= 0
        where = np.where(has, at, 0)
        bdr = self.owners[str(TeamKind.BDR)]
        con_owner = np.where(has, acc_owner[where], bdr[(con_base + np.arange(m)) % len(bdr)])
        con_team = np.where(has, acc_team[where], self.teams[str(TeamKind.BDR)])
        # Contacts are created the day they first showed up (at its start, before any of their activity):
        # leads enter the funnel over time.
        known_at = _format_times(
            np.datetime64(self.spec.start, "s") + con["created_day"].to_numpy() * np.timedelta64(86_400, "s")
        ).tolist()
        self.result.add(
            "contacts",
            _insert(
                Contact,
                [
                    "id",
                    "created",
                    "updated",
                    "account_id",
                    "email",
                    "first_name",
                    "last_name",
                    "title",
                    "seniority",
                    "department",
                    "country",
                    "persona_id",
                    "lifecycle_stage",
                    "owner_id",
                    "owner_team_id",
                    "custom",
                ],
                [
                    (con_base + np.arange(m)).tolist(),
                    known_at,
                    known_at,
                    _nullable(con["account"].to_numpy(), acc_base),
                    con["email"].tolist(),
                    con["first_name"].tolist(),
                    con["last_name"].tolist(),
                    con["title"].tolist(),
                    con["seniority"].tolist(),
                    con["department"].tolist(),
                    con["country"].tolist(),
                    [None if p < 0 else int(self.personas[p]) for p in persona],
                    con["lifecycle_stage"].tolist(),
                    con_owner.tolist(),
                    con_team.tolist(),
                    [{}] * m,
                ],
            ),
        )
        self._opportunities(chunk, acc_base)
        self._audience(chunk, acc_base)
        self._transitions(chunk, con_base)
        self._events(chunk, acc_base, con_base)
        self._rollups(chunk, acc_base, con_base)
        gt = chunk.ground_truth
        g = len(gt)
        gt_base = self._take(DemoGroundTruth, g)
        as_of = [d.isoformat() for d in gt["as_of"]]
        created = [_timestamp(dt.date.fromisoformat(d)) for d in sorted(set(as_of))]
        created_of = dict(zip(sorted(set(as_of)), created, strict=True))
        stamps = [created_of[d] for d in as_of]
        self.result.add(
            "ground truth",
            _insert(
                DemoGroundTruth,
                [
                    "id",
                    "created",
                    "updated",
                    "account_id",
                    "as_of",
                    "horizon_days",
                    "propensity",
                    "fit",
                    "in_market",
                ],
                [
                    (gt_base + np.arange(g)).tolist(),
                    stamps,
                    stamps,
                    (acc_base + gt["account"].to_numpy()).tolist(),
                    as_of,
                    [gen.HORIZON] * g,
                    gt["propensity"].round(6).tolist(),
                    gt["fit"].round(6).tolist(),
                    gt["in_market"].astype(bool).tolist(),
                ],
            ),
        )

    def _audience(self, chunk: gen.Chunk, acc_base: int) -> None:
        """The chunk's accounts in the audiences of the campaigns this run creates: treated or held out,
        assigned at the launch; and the chunk's share of each campaign's true effect."""
        effects = chunk.campaign_effects
        self.effects += effects[["treated", "held", "indirect_sum"]].to_numpy()
        aud = chunk.audience[self.fresh[chunk.audience["campaign"].to_numpy()]]
        k = len(aud)
        if not k:
            return
        base = self._take(CampaignAudience, k)
        campaign = aud["campaign"].to_numpy()
        groups = np.where(aud["held"].to_numpy(), AudienceGroup.HOLDOUT.value, AudienceGroup.TREATED.value)
        self.result.add(
            "campaign audiences",
            _insert(
                CampaignAudience,
                ["id", "campaign_id", "account_id", "group", "assigned_at"],
                [
                    (base + np.arange(k)).tolist(),
                    self.campaigns[campaign].tolist(),
                    (acc_base + aud["account"].to_numpy()).tolist(),
                    groups.astype(object).tolist(),
                    np.array(self.launched, dtype=object)[campaign].tolist(),
                ],
            ),
        )

    def _ground_truth(self) -> None:
        """Each created campaign's true engagement effect: its own events (direct) plus the buying cycles
        its lift started while it ran (indirect), per treated account-week over the days it ran."""
        camps = self.plan.campaigns
        rows = []
        for i in np.flatnonzero(self.fresh):
            row = camps.iloc[i]
            treated, held, indirect_sum = self.effects[i]
            indirect = indirect_sum / treated if treated else 0.0
            rows.append(
                (
                    int(self.campaigns[i]),
                    round(float(row["direct_lift"] + indirect), 6),
                    float(row["cycle_lift"]),
                    _truth_note(self.spec, row, int(treated), int(held), indirect),
                )
            )
        self.result.add(
            "campaign ground truth",
            bulk_insert(
                CampaignGroundTruth._meta.db_table,
                ["campaign_id", "engagement_lift", "cycle_multiplier", "note"],
                rows,
            ),
        )

    def _transitions(self, chunk: gen.Chunk, con_base: int) -> None:
        """How each contact reached its stage, dated in the period (mid-morning, a minute per step)."""
        moves = chunk.lifecycle_transitions
        k = len(moves)
        base = self._take(LifecycleTransition, k)
        step = moves.groupby("contact").cumcount().to_numpy()
        at = _format_times(
            np.datetime64(self.spec.start, "s")
            + moves["day"].to_numpy() * np.timedelta64(86_400, "s")
            + (10 * 3600 + 60 * step) * np.timedelta64(1, "s")
        )
        self.result.add(
            "lifecycle transitions",
            _insert(
                LifecycleTransition,
                ["id", "contact_id", "from_stage", "to_stage", "at", "rule", "reason", "checklist"],
                [
                    (base + np.arange(k)).tolist(),
                    (con_base + moves["contact"].to_numpy()).tolist(),
                    moves["from_stage"].tolist(),
                    moves["to_stage"].tolist(),
                    at.tolist(),
                    [""] * k,
                    ["Demo history"] * k,
                    [{}] * k,
                ],
            ),
        )

    def _opportunities(self, chunk: gen.Chunk, acc_base: int) -> None:
        opps = chunk.opportunities
        k = len(opps)
        if not k:
            return
        base = self._take(Opportunity, k)
        ids = base + np.arange(k)
        epoch_start = (self.spec.start - gen.EPOCH).days
        created_day = opps["created_day"].to_numpy() + epoch_start
        engaged = opps["engaged_day"].to_numpy()
        engaged_txt = _format_days(np.where(engaged == gen.NO_DAY, 0, engaged) + epoch_start)
        engaged_txt[engaged == gen.NO_DAY] = None
        names = chunk.accounts["name"].to_numpy()[opps["account"].to_numpy()]
        products = np.array([p[0] for p in cat.PRODUCTS], dtype=object)[opps["product"].to_numpy()]
        channels = np.array([self.channels[ch] for ch in cat.CHANNELS])[opps["channel"].to_numpy()]
        stamps = _format_times((created_day * 86_400 + 9 * 3600).astype("datetime64[s]"))
        campaign = opps["campaign"].to_numpy()
        self.result.add(
            "opportunities",
            _insert(
                Opportunity,
                [
                    "id",
                    "created",
                    "updated",
                    "external_id",
                    "account_id",
                    "name",
                    "product_id",
                    "amount",
                    "stage",
                    "created_date",
                    "engaged_date",
                    "close_date",
                    "channel_id",
                    "source_campaign_id",
                    "sales_agent_id",
                ],
                [
                    ids.tolist(),
                    stamps.tolist(),
                    stamps.tolist(),
                    [f"DEMO-{i:08d}" for i in ids],
                    (acc_base + opps["account"].to_numpy()).tolist(),
                    (names + " — " + products).tolist(),
                    self.products[opps["product"].to_numpy()].tolist(),
                    opps["amount"].tolist(),
                    opps["stage"].tolist(),
                    _format_days(created_day).tolist(),
                    engaged_txt.tolist(),
                    _format_days(opps["close_day"].to_numpy() + epoch_start).tolist(),
                    channels.tolist(),
                    [None if x < 0 else int(self.campaigns[x]) for x in campaign],
                    self.agents[opps["agent"].to_numpy()].tolist(),
                ],
            ),
        )

    def _events(self, chunk: gen.Chunk, acc_base: int, con_base: int) -> None:
        ev = chunk.events
        k = len(ev)
        base = self._take(EngagementEvent, k)
        ids = base + np.arange(k)
        tpl = self.plan.templates
        t = ev["template"].to_numpy()
        stamps = _format_times(ev["ts"].to_numpy().astype("datetime64[s]")).tolist()
        campaign = ev["campaign"].to_numpy()
        camp_ids = np.where(campaign >= 0, self.campaigns[np.maximum(campaign, 0)], -1)
        prefix = f"demo-{self.spec.seed}-"
        self.result.add(
            "events",
            _insert(
                EngagementEvent,
                [
                    "id",
                    "created",
                    "updated",
                    "message_id",
                    "event_type",
                    "occurred_at",
                    "account_id",
                    "contact_id",
                    "source",
                    "campaign_id",
                    "url",
                    "topic",
                    "properties",
                ],
                [
                    ids.tolist(),
                    stamps,
                    stamps,
                    [prefix + str(i) for i in ids.tolist()],
                    tpl["event_type"].to_numpy()[t].tolist(),
                    stamps,
                    _nullable(ev["account"].to_numpy(), acc_base),
                    _nullable(ev["contact"].to_numpy(), con_base),
                    tpl["source"].to_numpy()[t].tolist(),
                    _nullable(camp_ids),
                    tpl["url"].to_numpy()[t].tolist(),
                    tpl["topic"].to_numpy()[t].tolist(),
                    [{}] * k,
                ],
            ),
        )

    def _rollups(self, chunk: gen.Chunk, acc_base: int, con_base: int) -> None:
        keys = np.array(sorted(set(self.plan.templates["key"])), dtype=object)
        types = np.array(gen.EVENT_TYPES, dtype=object)
        ad = chunk.account_daily
        k = len(ad)
        base = self._take(AccountActivityDaily, k)
        self.result.add(
            "account daily rollups",
            _insert(
                AccountActivityDaily,
                ["id", "account_id", "day", "event_type", "key", "count", "known_count"],
                [
                    (base + np.arange(k)).tolist(),
                    (acc_base + ad["account"].to_numpy()).tolist(),
                    _format_days(ad["day"].to_numpy()).tolist(),
                    types[ad["type"].to_numpy()].tolist(),
                    keys[ad["key"].to_numpy()].tolist(),
                    ad["count"].tolist(),
                    ad["known"].tolist(),
                ],
            ),
        )
        cd = chunk.contact_daily
        k = len(cd)
        base = self._take(ContactActivityDaily, k)
        self.result.add(
            "contact daily rollups",
            _insert(
                ContactActivityDaily,
                ["id", "contact_id", "account_id", "day", "event_type", "key", "count"],
                [
                    (base + np.arange(k)).tolist(),
                    (con_base + cd["contact"].to_numpy()).tolist(),
                    _nullable(cd["account"].to_numpy(), acc_base),
                    _format_days(cd["day"].to_numpy()).tolist(),
                    types[cd["type"].to_numpy()].tolist(),
                    keys[cd["key"].to_numpy()].tolist(),
                    cd["count"].tolist(),
                ],
            ),
        )

    def _avoid_collisions(self, chunk: gen.Chunk, acc_base: int, con_base: int) -> None:
        """Appending to a populated database: rename domains and e-mails that are already taken."""
        acc = chunk.accounts
        taken = set(
            Account.objects.filter(domain__in=acc["domain"].tolist()).values_list("domain", flat=True)
        )
        con = chunk.contacts
        if taken:
            for i in np.nonzero(acc["domain"].isin(taken).to_numpy())[0]:
                old = acc.at[i, "domain"]
                stem, tld = old.split(".", 1)
                new = f"{stem}-{acc_base + i}.{tld}"
                acc.at[i, "domain"] = new
                mine = (con["account"] == i).to_numpy()
                con.loc[mine, "email"] = con.loc[mine, "email"].str.replace("@" + old, "@" + new, regex=False)
        emails = set(Contact.objects.filter(email__in=con["email"].tolist()).values_list("email", flat=True))
        for j in np.nonzero(con["email"].isin(emails).to_numpy())[0]:
            local, domain = con.at[j, "email"].split("@", 1)
            con.at[j, "email"] = f"{local}.{con_base + j}@{domain}"

    # --- bulk load: indexes rebuilt once ------------------------------------------------------
    def bulk_load_tables(self) -> list:
        """The big tables that can be loaded without their secondary indexes: empty, on PostgreSQL.

        Needs the foreign-key checks off (superuser): a whole-run transaction would otherwise queue
        tens of millions of deferred checks.
        """
        if not (is_postgres() and self.skip_fk_checks):
            return []
        big = [Contact, EngagementEvent, AccountActivityDaily, ContactActivityDaily, DemoGroundTruth]
        return [m for m in big if self.next_id[m] == 1 and not m.objects.exists()]

    def indexes_drop(self, models: list) -> list[tuple[str, str]]:
        """Drop the secondary indexes and unique constraints of ``models``; returns how to restore them."""
        restore = []
        with connection.cursor() as cursor:
            # ALTER TABLE refuses while deferred checks are pending (a caller's deletes): run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for model in models:
                table = connection.ops.quote_name(model._meta.db_table)
                cursor.execute(
                    """
                    SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname,
                           pg_get_constraintdef(c.oid)
                    FROM pg_index i
                    LEFT JOIN pg_constraint c
                      ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype = 'u'
                    WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
                    ORDER BY 1
                    """,
                    [model._meta.db_table],
                )
                for index, index_def, constraint, constraint_def in cursor.fetchall():
                    if constraint:
                        name = connection.ops.quote_name(constraint)
                        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
                        restore.append((index, f"ALTER TABLE {table} ADD CONSTRAINT {name} {constraint_def}"))
                    else:
                        cursor.execute(f"DROP INDEX {index}")
                        restore.append((index, index_def))
        return restore

    def indexes_restore(self, restore: list[tuple[str, str]]) -> None:
        """Rebuild what ``indexes_drop`` dropped (unique constraints re-validate the data)."""
        if not restore:
            return
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for _, sql in restore:
                cursor.execute(sql)

    # --- the end --------------------------------------------------------------------------
    def finish(self) -> None:
        """Write the campaigns' true effects, move PostgreSQL sequences past the explicit ids and audit
        the seed."""
        self._ground_truth()
        statements = connection.ops.sequence_reset_sql(no_style(), SEEDED_MODELS)
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
        change_record_create(
            actor=None,
            action=ChangeAction.SEED,
            model=Account,
            object_repr=f"Demo world: {self.spec.accounts} accounts, seed {self.spec.seed}",
            after={
                "seed": self.spec.seed,
                "accounts": self.spec.accounts,
                "start": self.spec.start.isoformat(),
                "end": self.spec.end.isoformat(),
                "counts": self.result.counts,
            },
        )


def _cost_lines(start: dt.date, first: int, last: int, cost: int) -> list[tuple[str, str, str]]:
    """A campaign's cost over the months it ran, pro rata to its days in each, in cents that add up."""
    days = [start + dt.timedelta(days=d) for d in range(first, last + 1)]
    months = sorted({d.replace(day=1) for d in days})
    counts = [sum(d.replace(day=1) == m for d in days) for m in months]
    cents = [cost * 100 * n // len(days) for n in counts]
    cents[-1] += cost * 100 - sum(cents)
    return [(m.isoformat(), f"{v // 100}.{v % 100:02d}") for m, v in zip(months, cents, strict=True)]


def _truth_note(spec: gen.Spec, row, treated: int, held: int, indirect: float) -> str:
    """What the true effect counts, in words."""
    days = int(row["last_day"] - row["start_day"] + 1)
    last = spec.start + dt.timedelta(days=int(row["last_day"]))
    running = " (still running: to the period's last day)" if row["end_day"] > row["last_day"] else ""
    text = (
        f"Direct: {row['rate']:g} campaign events per treated account a working day (0.3 of that on a "
        f"weekend day), {row['direct_lift']:.4f} per account-week over the {days} days to "
        f"{last:%d %b %Y}{running}. "
    )
    if row["cycle_lift"] != 1.0:
        text += (
            f"Indirect: {indirect:.4f} per account-week from the buying cycles that its "
            f"×{row['cycle_lift']:g} lift of a dormant prospect's daily chance to start one began while it "
            "ran (their research, and the sales meetings of the deals they opened), in expectation from each "
            "treated account's state at the start. Not counted (smaller still): a second cycle after an "
            "early deal, customer-success events of a deal won within the run. "
        )
    else:
        text += "No indirect part: a customer program does not change buying cycles. "
    return text + (
        f"Audience: {treated} treated and {held} held out ({cat.CAMPAIGN_HOLDOUT:.0%} of those eligible, "
        "drawn from the target's seed); the holdout gets neither its events nor its lift. Third-party "
        "intent is not engagement."
    )


def demo_world_seed(
    *,
    accounts: int,
    seed: int,
    end: dt.date,
    months: int = 18,
    append: bool = False,
    on_chunk: Callable[[int], None] | None = None,
) -> SeedResult:
    """Generate and write a demo world; refuses when accounts exist unless ``append``.

    ``on_chunk(n_accounts)`` is called after each chunk is committed (progress bars, job rows).
    """
    if accounts < 1:
        raise SeedRefused("--accounts must be at least 1.")
    existing = Account.objects.count()
    if existing and not append:
        raise SeedRefused(
            f"The database already has {existing} accounts. seed_demo does not mix a demo world into real "
            "data: use --if-empty to skip quietly, --append to add a demo world next to them, or start "
            "from an empty database."
        )
    first_index = _max_id(Account) if append else 0
    spec = gen.Spec(accounts=accounts, seed=seed, end=end, months=months, first_index=first_index)
    started = time.perf_counter()
    plan = gen.make_plan(spec)
    writer = DemoWriter(spec, plan)
    writer.prepare()
    result = writer.result
    # Empty tables on PostgreSQL (as superuser): one transaction, secondary indexes rebuilt once at
    # the end instead of maintained row by row (several times faster), and a crash leaves nothing
    # behind. Otherwise one transaction per chunk.
    bulk = writer.bulk_load_tables()
    with transaction.atomic() if bulk else contextlib.nullcontext():
        deferred = writer.indexes_drop(bulk) if bulk else []
        for number in range((accounts + gen.CHUNK - 1) // gen.CHUNK):
            t0 = time.perf_counter()
            chunk = gen.generate_chunk(plan, number)
            t1 = time.perf_counter()
            writer.write(chunk)
            t2 = time.perf_counter()
            result.generate_seconds += t1 - t0
            result.write_seconds += t2 - t1
            if on_chunk:
                on_chunk(len(chunk.accounts))
        with transaction.atomic():
            t0 = time.perf_counter()
            writer.indexes_restore(deferred)
            writer.finish()
            result.write_seconds += time.perf_counter() - t0
    result.total_seconds = time.perf_counter() - started
    return result
