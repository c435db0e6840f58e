"""One importer per kind: parse a row, check it against the others, write chunks set-based.

The engine (``services.csv_import``) drives every importer the same way:

1. ``load()`` reads the lookup indexes it needs (accounts by domain and name, products by key …);
2. pass 1, for every row: ``parse(row)`` (cells → values, pure and repeatable) then ``register``
   (cross-row bookkeeping: duplicates, references), then once ``validate_all()`` (parents, cycles);
3. pass 2, only if the file is good (or row by row): ``parse`` again and ``write(chunk)`` with
   ``bulk_create`` and ``rows_update`` — never a per-row save — then ``finish()``.

Blank cells never erase what is already stored; a column's values are written only where given.
"""

import difflib
import shlex
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db import connection, models
from django.utils import timezone

from accounts.choices import LifecycleStage, Seniority
from accounts.freemail import FREE_MAIL_DOMAINS
from accounts.ingest import account_name_from_domain
from accounts.models import (
    Account,
    Campaign,
    Channel,
    Contact,
    Opportunity,
    Persona,
    Product,
    SalesAgent,
    Technology,
)
from accounts.normalize import email_domain, normalize_domain, normalize_key, seniority_from_title
from accounts.routing import accounts_route, contacts_route
from accounts.selectors import persona_matcher
from accounts.signals import records_imported
from revops.bulk import bulk_insert, is_postgres
from revops.models import Membership, Team
from scoring.engine import words
from scoring.lifecycle import contacts_stage_import, importable_stages
from scoring.selectors import published_ruleset

from .mappings import CUSTOM, Corrected, KindSpec, UnknownChoice, loose_key

if TYPE_CHECKING:
    from .services import ImportContext

INVALID = object()  # a cell that failed to parse (its error is already recorded)
WRITE_BATCH = 1000
NEW_ACCOUNTS_LISTED = 100  # companies named one by one in the report; the rest share one line
WRITTEN = ("created", "updated")


def name_key(value: str) -> str:
    """How names are compared: case-insensitively, whitespace collapsed."""
    return " ".join((value or "").split()).casefold()


@dataclass
class Row:
    """One data row of the file: its number (header = 1) and its cells."""

    number: int
    cells: list[str]
    headers: Sequence[str]

    def data(self) -> dict[str, str]:
        """The row as the user gave it, header → cell (extra cells under their position)."""
        out = {h: (self.cells[i] if i < len(self.cells) else "") for i, h in enumerate(self.headers)}
        for i in range(len(self.headers), len(self.cells)):
            out[f"(extra {i + 1})"] = self.cells[i]
        return out


# --- set-based writes ----------------------------------------------------------------------
def rows_update(model: type[models.Model], attnames: list[str], rows: list[tuple]) -> int:
    """Update ``rows`` of ``(pk, *values)`` in ``attnames`` (and ``updated``), set-based.

    The rows go into a temporary table (COPY on PostgreSQL, batched INSERTs on SQLite, through
    ``revops.bulk``) and one ``UPDATE … FROM`` applies them: a handful of statements per chunk,
    never one per row, and none of ``bulk_update``'s ``CASE WHEN`` that grows with the batch.
    """
    if not rows:
        return 0
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    fields = [model._meta.get_field(a) for a in attnames]
    columns = [f.column for f in fields]
    has_updated = any(f.name == "updated" for f in model._meta.concrete_fields)
    if is_postgres():
        values = rows
    else:  # sqlite3 needs database values (JSON as text, dates as ISO strings)
        values = [(pk, *[f.get_db_prep_value(v, connection) for f, v in zip(fields, vals, strict=True)])
                  for pk, *vals in rows]  # fmt: skip
    stage = "import_stage"
    sets = ", ".join(f"{qn(c)} = s.{qn(c)}" for c in columns)
    params: list = []
    if has_updated:
        sets += f", {qn('updated')} = %s"
        params.append(
            timezone.now() if is_postgres() else connection.ops.adapt_datetimefield_value(timezone.now())
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(
            f"CREATE TEMP TABLE {stage} AS SELECT {qn('id')}, {', '.join(qn(c) for c in columns)} "
            f"FROM {table} WHERE 1 = 0"
        )
        bulk_insert(stage, ["id", *columns], values)
        cursor.execute(
            f"UPDATE {table} AS t SET {sets} FROM {stage} AS s WHERE t.{qn('id')} = s.{qn('id')}", params
        )
        cursor.execute(f"DROP TABLE {stage}")
    return len(rows)


def rows_insert(model: type[models.Model], objs: list[models.Model]) -> int:
    """Insert new rows with COPY (PostgreSQL) or batched INSERTs (SQLite) when their ids are not needed."""
    if not objs:
        return 0
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    rows = ([f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields] for obj in objs)
    return bulk_insert(model._meta.db_table, [f.column for f in fields], rows)


@dataclass
class Plan:
    """What to write for one row: the existing pk (or None to create), hard and soft values.

    Hard values overwrite; soft values only fill a field that is empty (or set it on creation).
    """

    row: int
    pk: int | None
    values: dict[str, Any]
    soft: dict[str, Any] = field(default_factory=dict)


# --- lookups shared by several importers ----------------------------------------------------
class AccountIndex:
    """Existing accounts by domain, name and loose name, loaded once per import."""

    def __init__(self) -> None:
        self.by_domain: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = defaultdict(list)
        self.by_loose: dict[str, list[int]] = defaultdict(list)
        self.names: dict[int, str] = {}
        self.with_domain: set[int] = set()
        for pk, name, domain in Account.objects.values_list("id", "name", "domain").iterator(chunk_size=5000):
            self.names[pk] = name
            self.by_name[name_key(name)].append(pk)
            self.by_loose[normalize_key(name)].append(pk)
            if domain:
                self.by_domain[domain] = pk
                self.with_domain.add(pk)

    def resolve(self, raw: str) -> tuple[int | None, str, str]:
        """An account named by domain or name → (pk, note, error)."""
        pk, note, error = self.match(raw)
        if pk is None and not error:
            error = f"unknown account '{raw}' (import accounts first, or leave the cell empty)"
        return pk, note, error

    def match(self, raw: str) -> tuple[int | None, str, str]:
        """Like ``resolve``, but an account that does not exist is (None, "", "") rather than an error."""
        domain = _as_domain(raw)
        if domain and domain in self.by_domain:
            return self.by_domain[domain], "", ""
        ids = self.by_name.get(name_key(raw), [])
        if len(ids) == 1:
            return ids[0], "", ""
        if len(ids) > 1:
            return None, "", f"{len(ids)} accounts are named '{raw}': name it by its domain instead"
        ids = self.by_loose.get(normalize_key(raw), [])
        if len(ids) == 1:
            return ids[0], f"'{raw}' matched account '{self.names[ids[0]]}'", ""
        if len(ids) > 1:
            return None, "", f"{len(ids)} accounts have names like '{raw}': name it by its domain instead"
        return None, "", ""


def unknown_choice_reason(name: str, exc: UnknownChoice) -> str:
    """``'intern' is not a seniority; accepted: … — or map it with --map-values seniority:intern=<value>``."""
    suggestion = exc.parser.suggest(exc.value)
    hint = f" (did you mean {suggestion}?)" if suggestion else ""
    return (
        f"'{exc.value}' is not {exc.parser.a_noun}{hint}; accepted: {', '.join(exc.parser.values)} "
        f"— or map it with --map-values {shlex.quote(f'{name}:{exc.value}')}=<value>"
    )


@lru_cache(maxsize=65_536)
def _as_domain(raw: str) -> str:
    if "." not in raw or " " in raw.strip():
        return ""
    try:
        return normalize_domain(raw)
    except ValueError:
        return ""


class NameIndex:
    """Rows of a model by exact-ish name and by loose key (``GTXPro`` finds ``GTX Pro``)."""

    def __init__(self, pairs, label: str, plural: str, hint: str) -> None:
        self.label, self.plural, self.hint = label, plural, hint
        self.exact: dict[str, tuple[int, str]] = {}
        self.loose: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for pk, *names in pairs:
            for name in names:
                if name:
                    self.exact.setdefault(name_key(name), (pk, names[0]))
                    self.loose[normalize_key(name)].append((pk, names[0]))

    def resolve(self, raw: str) -> tuple[int | None, str, str]:
        found = self.exact.get(name_key(raw))
        if found:
            return found[0], "", ""
        candidates = {pk: name for pk, name in self.loose.get(normalize_key(raw), [])}
        if len(candidates) == 1:
            pk, name = next(iter(candidates.items()))
            return pk, f"'{raw}' matched {self.label} '{name}'", ""
        known = sorted({name for _, name in self.exact.values()})
        listed = ", ".join(known[:12]) + (" …" if len(known) > 12 else "") if known else "none yet"
        return None, "", f"unknown {self.label} '{raw}' ({self.hint}; known {self.plural}: {listed})"


class OwnerIndex:
    """Active users by e-mail and by username (case-insensitive), teams by name or slug, and who is in
    which team: an import's owner and owning-team columns."""

    def __init__(self) -> None:
        self.users: dict[str, int] = {}
        for pk, username, email in (
            get_user_model().objects.filter(is_active=True).values_list("id", "username", "email")
        ):
            self.users.setdefault(username.casefold(), pk)
            if email:
                self.users.setdefault(email.strip().casefold(), pk)
        self.teams = NameIndex(
            Team.objects.values_list("id", "name", "slug"), "team", "teams", "create the team first"
        )
        self.members: set[tuple[int, int]] = set(Membership.objects.values_list("team_id", "user_id"))

    def user(self, raw: str) -> tuple[int | None, str, str]:
        pk = self.users.get(" ".join(raw.split()).casefold())
        if pk is None:
            return None, "", f"unknown owner '{raw}': no active user has this e-mail or username"
        return pk, "", ""

    def owners(self, importer: "Importer", row: "Row") -> dict[str, Any]:
        """The row's ``owner_id`` and ``owner_team_id`` (absent when blank, INVALID when wrong)."""
        owner = importer.ref(row, "owner", self.user)
        team = importer.ref(row, "owner_team", self.teams.resolve)
        if isinstance(owner, int) and isinstance(team, int) and (team, owner) not in self.members:
            importer.ctx.error(
                row, "owner", importer.raw(row, "owner"),
                f"is not a member of the team '{importer.raw(row, 'owner_team').strip()}'",
            )  # fmt: skip
            owner = INVALID
        return {"owner_id": owner, "owner_team_id": team}


class TechnologyIndex:
    """The technology catalogue by name and by loose key (``PowerBI`` finds ``Power BI``).

    A name it lacks is added to it: pass 1 notes it (spelled as the first row spells it), pass 2
    creates it with the chunk that first uses it, so a dry run or a rejected file adds nothing.
    """

    def __init__(self) -> None:
        self.exact: dict[str, int] = {}
        self.loose: dict[str, tuple[int, str]] = {}
        for pk, name in Technology.objects.order_by("id").values_list("id", "name"):
            self.exact.setdefault(name_key(name), pk)
            self.loose.setdefault(loose_key(name), (pk, name))
        self.new: dict[str, tuple[str, str]] = {}  # loose key → (name as first spelled, report note)
        self.ids: dict[str, int] = {}  # loose key → id of the technology added (made up in a dry run)

    def resolve(self, name: str) -> tuple[int | str, str]:
        """(id, note) of a catalogue technology, or (loose key, note) of one to add."""
        pk = self.exact.get(name_key(name))
        if pk is not None:
            return pk, ""
        key = loose_key(name)
        found = self.loose.get(key)
        if found is not None:
            return found[0], f"'{name}' matched technology '{found[1]}'"
        if key not in self.new:
            close = difflib.get_close_matches(key, list(self.loose), n=1, cutoff=0.85)
            hint = f" (did you mean '{self.loose[close[0]][1]}'?)" if close else ""
            self.new[key] = (name, f"'{name}' is not in the technology catalogue: added to it{hint}")
        return key, self.new[key][1]

    def create(self, keys: set[str], *, write: bool) -> int:
        """Add the technologies of ``keys`` not added yet (one INSERT); return how many were new."""
        missing = sorted(keys - self.ids.keys())
        if not missing:
            return 0
        if write:
            names = [self.new[k][0] for k in missing]
            # ignore_conflicts: a concurrent import may have added the same name meanwhile.
            Technology.objects.bulk_create([Technology(name=n) for n in names], ignore_conflicts=True)
            by_name = dict(Technology.objects.filter(name__in=names).values_list("name", "id"))
            self.ids.update((k, by_name[self.new[k][0]]) for k in missing)
        else:
            self.ids.update((k, -(len(self.ids) + 1)) for k in missing)
        return len(missing)


# --- the importers ---------------------------------------------------------------------------
def _account_ids(rows: list[tuple[Plan, int | None, str]], current: dict[int, dict]) -> set[int]:
    """The accounts of the rows written, before and after (a row moved to another account touches both)."""
    ids = set()
    for plan, pk, _status in rows:
        ids.add({**plan.soft, **plan.values}.get("account_id"))
        ids.add((current.get(pk) or {}).get("account_id"))
    ids.discard(None)
    return ids


class Importer:
    """Base importer: cell parsing with errors and warnings, and the set-based upsert."""

    kind: str = ""
    model: type[models.Model]
    update_fields: list[str] = []
    chunk_size = 2000
    # Accounts need the ids of the rows they create (for parents): bulk_create returns them.
    needs_ids = False
    # Events are validated by the ingestion service while it writes: a dry run executes and rolls back.
    dry_run_executes = False
    # Stored values a soft value fills, besides blank ones (a contact's default "unknown" seniority).
    soft_fills: dict[str, Any] = {}

    def __init__(self, ctx: "ImportContext") -> None:
        self.ctx = ctx
        self.spec: KindSpec = ctx.mapping.kind
        self.specs = {f.name: f for f in self.spec.fields}
        self.index = {c.target: c.index for c in ctx.mapping.columns if c.target not in (CUSTOM, "ignore")}
        self.custom_columns = [c for c in ctx.mapping.columns if c.target == CUSTOM]
        self.seen: dict[Any, int] = {}

    # -- parsing helpers
    def raw(self, row: Row, name: str) -> str:
        i = self.index.get(name)
        return row.cells[i] if i is not None and i < len(row.cells) else ""

    def value(self, row: Row, name: str) -> Any:
        """The parsed cell for field ``name``: None if blank, INVALID (error recorded) if wrong."""
        raw = self.raw(row, name)
        spec = self.specs[name]
        if not raw.strip():
            if spec.required:
                self.ctx.error(row, name, raw, "is required")
                return INVALID
            return None
        mapped = self.ctx.value_map.get(name, {}).get(loose_key(raw))
        if mapped is not None:
            value = " ".join(raw.split())
            if not spec.choices.read(value):
                self.ctx.choice_value(name, value, spec.choices, mapped=mapped)
            self.ctx.warn(row, name, f"'{value}' mapped to {mapped} (value mapping)")
            return mapped
        try:
            parsed = spec.parse(raw)
        except UnknownChoice as exc:
            self.ctx.choice_value(name, exc.value, exc.parser)
            self.ctx.error(row, name, raw, unknown_choice_reason(name, exc))
            return INVALID
        except ValueError as exc:
            self.ctx.error(row, name, raw, str(exc))
            return INVALID
        if isinstance(parsed, Corrected):
            self.ctx.warn(row, name, parsed.note)
            return parsed.value
        return parsed

    def custom(self, row: Row) -> dict[str, str]:
        out = {}
        for column in self.custom_columns:
            cell = row.cells[column.index].strip() if column.index < len(row.cells) else ""
            if cell:
                out[column.header] = cell
        return out

    def ref(self, row: Row, name: str, resolver) -> Any:
        """Resolve a reference cell with ``resolver(raw) → (pk, note, error)``."""
        raw = self.value(row, name)
        if raw is None or raw is INVALID:
            return raw
        pk, note, error = resolver(raw)
        if error:
            self.ctx.error(row, name, self.raw(row, name), error)
            return INVALID
        if note:
            self.ctx.warn(row, name, note)
        return pk

    def unique(self, row: Row, key: Any, name: str, what: str) -> bool:
        """Record ``key`` as seen; a second row with the same key is an error."""
        first = self.seen.get(key)
        if first is not None:
            self.ctx.error(row, name, self.raw(row, name), f"duplicate: row {first} has the same {what}")
            return False
        self.seen[key] = row.number
        return True

    # -- the protocol
    def load(self) -> None:
        """Read lookup indexes (called once, before pass 1)."""

    def parse(self, row: Row) -> Any:
        raise NotImplementedError

    def register(self, row: Row, item: Any) -> None:
        """Pass 1 cross-row bookkeeping (duplicates …); record errors with ``ctx.error``."""

    def validate_all(self) -> None:
        """After pass 1: checks that need every row (parents, cycles)."""

    def write(self, items: list[Any], *, write: bool) -> None:
        raise NotImplementedError

    def finish(self, *, write: bool) -> None:
        """After pass 2 (parents)."""

    def check_merged(self, merged: dict[str, Any]) -> tuple[str, str] | None:
        """A stored row updated with a file row: (field, reason) if the result would be invalid."""
        return None

    def written(self, rows: list[tuple[Plan, int | None, str]], current: dict[int, dict]) -> None:
        """After a write: ``(plan, pk or None, "created"|"updated")`` of each row written, and the stored
        rows as they were before. Importers whose rows feed the scores tell scoring which to redo."""

    # -- set-based upsert
    def upsert(
        self, plans: list[Plan], *, write: bool
    ) -> tuple[list[int | None], list[str], dict[int, dict]]:
        """Create or update ``plans`` in bulk; returns (pk per plan, status per plan, current rows).

        Unchanged rows are not written. In a dry run nothing is written and new rows get pk None.
        """
        fields = self.update_fields
        pks = [p.pk for p in plans if p.pk]
        current: dict[int, dict] = {}
        if pks:
            current = {r["id"]: r for r in self.model.objects.filter(pk__in=pks).values("id", *fields)}
        creates: list[models.Model] = []
        create_at: list[int] = []
        updates: list[tuple] = []
        ids: list[int | None] = []
        statuses: list[str] = []
        for i, plan in enumerate(plans):
            cur = current.get(plan.pk) if plan.pk else None
            if cur is None:
                creates.append(self.model(**{**plan.soft, **plan.values}))
                create_at.append(i)
                ids.append(None)
                statuses.append("created")
                continue
            merged = {f: cur[f] for f in fields}
            for name, value in plan.values.items():
                merged[name] = {**(cur[name] or {}), **value} if name == "custom" else value
            for name, value in plan.soft.items():
                if merged.get(name) in (None, "") or (
                    name in self.soft_fills and merged.get(name) == self.soft_fills[name]
                ):
                    merged[name] = value
            problem = self.check_merged(merged)
            if problem:  # this row and what is stored contradict each other (found while writing)
                self.ctx.error(plan.row, problem[0], "", problem[1])
                ids.append(plan.pk)
                statuses.append("rejected")
                continue
            ids.append(plan.pk)
            if any(merged[f] != cur[f] for f in fields):
                updates.append((plan.pk, *[merged[f] for f in fields]))
                statuses.append("updated")
            else:
                statuses.append("unchanged")
        if write:
            if self.needs_ids:
                self.model.objects.bulk_create(creates, batch_size=WRITE_BATCH)
                for i, obj in zip(create_at, creates, strict=True):
                    ids[i] = obj.pk
            else:
                rows_insert(self.model, creates)
            rows_update(self.model, fields, updates)
            written = [(p, pk, s) for p, pk, s in zip(plans, ids, statuses, strict=True) if s in WRITTEN]
            if written:
                self.written(written, current)
        report = self.ctx.report
        report.created += statuses.count("created")
        report.updated += statuses.count("updated")
        report.unchanged += statuses.count("unchanged")
        return ids, statuses, current


@dataclass
class AccountItem:
    row: int
    key: tuple[str, str]
    pk: int | None
    values: dict[str, Any]
    revenue: Any = None
    technologies: tuple[int | str, ...] | None = None  # catalogue ids, or loose keys of names to add


class AccountImporter(Importer):
    """Accounts, upserted by domain (else by name), with a parent hierarchy resolved after all rows."""

    kind = "accounts"
    model = Account
    needs_ids = True
    update_fields = [
        "name",
        "domain",
        "industry",
        "employee_count",
        "annual_revenue",
        "founded_year",
        "country",
        "owner_id",
        "owner_team_id",
        "custom",
    ]

    def load(self) -> None:
        self.accounts = AccountIndex()
        self.owners = OwnerIndex()
        self.no_adopt: set[int] = set()  # rows that must not take over a domainless account (pass 1 decides)
        self.claimed: dict[int, int] = {}  # existing pk → row
        self.file_by_domain: dict[str, tuple] = {}
        self.file_by_name: dict[str, list[tuple]] = defaultdict(list)
        self.row_of: dict[tuple, int] = {}
        self.pk_of: dict[tuple, int | None] = {}
        self.parent_refs: list[tuple[int, tuple | None, str]] = []
        self.parent_target: dict[tuple, tuple[str, Any]] = {}
        self.key_to_id: dict[tuple, int | None] = {}
        self.status: dict[tuple, str] = {}
        self.current_parent: dict[tuple, int | None] = {}
        self.revenue_max = None
        self.rejected_refs: dict[str, int] = {}
        self.revenue_seen = 0
        self.technologies = TechnologyIndex()

    def _match(self, row: Row, name: str, domain: str | None) -> tuple[int | None, bool, str]:
        """The existing account this row updates → (pk, adopted by name, error)."""
        if domain:
            if domain in self.accounts.by_domain:
                return self.accounts.by_domain[domain], False, ""
            if row.number in self.no_adopt:
                return None, False, ""
            # An account first imported without a domain gets it now, rather than a twin.
            ids = [
                i for i in self.accounts.by_name.get(name_key(name), []) if i not in self.accounts.with_domain
            ]
            return (ids[0], True, "") if len(ids) == 1 else (None, False, "")
        ids = self.accounts.by_name.get(name_key(name), [])
        if len(ids) > 1:
            return (
                None,
                False,
                f"{len(ids)} accounts are already named '{name}': add a domain column to tell them apart",
            )
        return (ids[0] if ids else None), False, ""

    def parse(self, row: Row) -> AccountItem | None:
        name = self.value(row, "name")
        domain = self.value(row, "domain")
        values = {
            "name": name,
            "domain": domain,
            "industry": self.value(row, "industry"),
            "employee_count": self.value(row, "employee_count"),
            "annual_revenue": self.value(row, "annual_revenue"),
            "founded_year": self.value(row, "founded_year"),
            "country": self.value(row, "country"),
            **self.owners.owners(self, row),
        }
        millions = self.value(row, "annual_revenue_millions")
        if millions is not None:
            values["annual_revenue"] = millions
        self.value(row, "parent")
        technologies = self.value(row, "technologies")
        if any(v is INVALID for v in values.values()) or INVALID in (millions, technologies):
            if self.ctx.first_pass:
                # Remember it, so a child naming it hears that its parent's row was rejected …
                for ref in (name, domain):
                    if isinstance(ref, str):
                        self.rejected_refs.setdefault(name_key(ref), row.number)
                # … and still check its own parent, so the report lists every problem of the row.
                parent = self.raw(row, "parent").strip()
                if parent:
                    self.parent_refs.append((row.number, None, " ".join(parent.split())))
            return None
        pk, _, error = self._match(row, name, domain)
        if error:
            self.ctx.error(row, "name", self.raw(row, "name"), error)
            return None
        values = {k: v for k, v in values.items() if v is not None}
        custom = self.custom(row)
        if custom:
            values["custom"] = custom
        key = ("domain", domain) if domain else ("name", name_key(name))
        return AccountItem(
            row=row.number,
            key=key,
            pk=pk,
            values=values,
            revenue=values.get("annual_revenue"),
            technologies=self._technologies(row, technologies),
        )

    def _technologies(self, row: Row, names: tuple[str, ...] | None) -> tuple[int | str, ...] | None:
        if names is None:
            return None
        refs: dict[int | str, None] = {}
        for name in names:
            ref, note = self.technologies.resolve(name)
            if note:
                self.ctx.warn(row, "technologies", note)
            refs[ref] = None
        return tuple(refs)

    def register(self, row: Row, item: AccountItem) -> None:
        column = "domain" if item.key[0] == "domain" else "name"
        if not self.unique(
            row, item.key, column, "domain" if column == "domain" else "account name (and no domain)"
        ):
            return
        if item.pk is not None:
            first = self.claimed.get(item.pk)
            if first is not None:
                _, adopted, _ = self._match(row, item.values["name"], item.values.get("domain"))
                if not adopted:
                    self.ctx.error(
                        row,
                        column,
                        self.raw(row, column),
                        f"row {first} already updates the same account (#{item.pk})",
                    )
                    return
                self.no_adopt.add(row.number)  # a second same-named row with a new domain: a new account
                item.pk = None
            else:
                self.claimed[item.pk] = row.number
        if item.values.get("domain"):
            self.file_by_domain[item.values["domain"]] = item.key
        self.file_by_name[name_key(item.values["name"])].append(item.key)
        self.row_of[item.key] = row.number
        self.pk_of[item.key] = item.pk
        parent = self.raw(row, "parent").strip()
        if parent:
            self.parent_refs.append((row.number, item.key, " ".join(parent.split())))
        if item.revenue is not None and "annual_revenue" in self.index:
            self.revenue_seen += 1
            self.revenue_max = (
                item.revenue if self.revenue_max is None else max(self.revenue_max, item.revenue)
            )

    def _resolve_parent(self, raw: str) -> tuple[tuple[str, Any] | None, str]:
        domain = _as_domain(raw)
        if domain:
            if domain in self.file_by_domain:
                return ("file", self.file_by_domain[domain]), ""
            if domain in self.accounts.by_domain:
                return ("db", self.accounts.by_domain[domain]), ""
        keys = self.file_by_name.get(name_key(raw), [])
        if len(keys) == 1:
            return ("file", keys[0]), ""
        if len(keys) > 1:
            return None, f"{len(keys)} accounts in this file are named '{raw}': name the parent by its domain"
        pk, _, error = self.accounts.resolve(raw)
        if pk is not None:
            return ("db", pk), ""
        rejected = self.rejected_refs.get(name_key(domain or raw))
        if rejected:
            return None, f"the parent account's row {rejected} was rejected"
        if error.startswith("unknown"):
            error = f"unknown parent account '{raw}': it is neither in this file nor already imported"
        return None, error

    def validate_all(self) -> None:
        ctx = self.ctx
        refs = []
        for number, key, raw in self.parent_refs:
            if key is None:  # a row with other errors: only say if its parent is unknown too
                target, error = self._resolve_parent(raw)
                if target is None and "was rejected" not in error:
                    ctx.error(number, "parent", raw, error)
                continue
            if number in ctx.bad_rows:
                continue
            target, error = self._resolve_parent(raw)
            if target is None:
                ctx.error(number, "parent", raw, error)
            elif target == ("file", key) or target[0] == "db" and target[1] == self.pk_of.get(key):
                ctx.error(number, "parent", raw, "an account cannot be its own parent")
            else:
                refs.append((number, key, raw, target))
        # Parent cycles inside the file (A → B → A) would make the hierarchy endless.
        graph = {key: target[1] for _, key, _, target in refs if target[0] == "file"}
        in_cycle: set[tuple] = set()
        for start in graph:
            path, node = [], start
            while node in graph and node not in path and node not in in_cycle:
                path.append(node)
                node = graph[node]
            if node in path:
                in_cycle.update(path[path.index(node) :])
        for number, key, raw, target in refs:
            if key in in_cycle:
                ctx.error(
                    number,
                    "parent",
                    raw,
                    "parent cycle: these accounts name each other as parents",
                )
            else:
                self.parent_target[key] = target
        # Row by row, a child whose parent row was rejected cannot be linked: reject it too (to a fixpoint).
        if ctx.row_by_row:
            changed = True
            while changed:
                changed = False
                for number, _key, raw, target in refs:
                    if number in ctx.bad_rows or target[0] != "file":
                        continue
                    parent_row = self.row_of.get(target[1])
                    if parent_row in ctx.bad_rows:
                        ctx.error(
                            number,
                            "parent",
                            raw,
                            f"the parent account's row {parent_row} was rejected",
                        )
                        changed = True
        if self.revenue_seen and self.revenue_max is not None and self.revenue_max < 100_000:
            header = self.ctx.mapping.header_for("annual_revenue")
            ctx.report.add_note(
                f"Every value in '{header}' is below 100,000 US dollars a year: if the column is in "
                f"millions, map it with {header}=annual_revenue_millions."
            )

    def written(self, rows, current) -> None:
        # New accounts without an owner column get one by territory or round-robin (one audit record).
        created = [pk for _p, pk, status in rows if status == "created" and pk is not None]
        accounts_route(account_ids=created, actor=self.ctx.actor, reason="imported")
        records_imported.send(sender=Account, contact_ids=set(), account_ids={pk for _p, pk, _s in rows})

    def write(self, items: list[AccountItem], *, write: bool) -> None:
        plans = [Plan(row=i.row, pk=i.pk, values=i.values) for i in items]
        ids, statuses, _ = self.upsert(plans, write=write)
        self._technologies_write(items, ids, statuses, write=write)
        existing = [i.pk for i in items if i.pk]
        parents = (
            dict(Account.objects.filter(pk__in=existing).values_list("id", "parent_id")) if existing else {}
        )
        for item, pk, status in zip(items, ids, statuses, strict=True):
            self.key_to_id[item.key] = pk
            self.status[item.key] = status
            self.current_parent[item.key] = parents.get(item.pk) if item.pk else None

    def _technologies_write(
        self, items: list[AccountItem], ids: list[int | None], statuses: list[str], *, write: bool
    ) -> None:
        """Make each listed account's technologies the list of its row: the links it lacks are
        inserted and the others deleted, set-based; an account whose list changed counts as updated."""
        rows = [
            (n, item, pk)
            for n, (item, pk) in enumerate(zip(items, ids, strict=True))
            if item.technologies is not None and statuses[n] != "rejected"
        ]
        if not rows:
            return
        report = self.ctx.report
        index = self.technologies
        new_keys = {ref for _, item, _ in rows for ref in item.technologies if isinstance(ref, str)}
        created = index.create(new_keys, write=write)
        if created:
            report.extra["technologies_created"] = report.extra.get("technologies_created", 0) + created
        through = Account.technologies.through
        stored: dict[int, dict[int, int]] = defaultdict(dict)  # account → technology → link id
        links = through.objects.filter(account_id__in=[pk for _, _, pk in rows if pk])
        for link, account, technology in links.values_list("id", "account_id", "technology_id"):
            stored[account][technology] = link
        inserts, deletes, changed = [], [], set()
        for n, item, pk in rows:
            wanted = {ref if isinstance(ref, int) else index.ids[ref] for ref in item.technologies}
            have = stored.get(pk, {}) if pk else {}
            added = wanted - have.keys()
            removed = [link for technology, link in have.items() if technology not in wanted]
            if not added and not removed:
                continue
            if pk:
                inserts += [through(account_id=pk, technology_id=t) for t in sorted(added)]
                deletes += removed
            if statuses[n] == "unchanged":
                statuses[n] = "updated"
                report.unchanged -= 1
                report.updated += 1
                changed.add(pk)
        if write:
            through.objects.filter(pk__in=deletes).delete()
            rows_insert(through, inserts)
            if changed:  # the others were signalled by the upsert
                records_imported.send(sender=Account, contact_ids=set(), account_ids=changed)

    def finish(self, *, write: bool) -> None:
        changes = []
        linked = 0
        report = self.ctx.report
        for key, (where, target) in self.parent_target.items():
            if key not in self.key_to_id:
                continue
            child = self.key_to_id[key]
            parent = target if where == "db" else self.key_to_id.get(target)
            if where == "file" and target not in self.key_to_id:
                continue
            new_link = child is None or parent is None  # dry run: ids of new accounts are unknown
            if not new_link and parent == self.current_parent.get(key):
                continue
            linked += 1
            if not new_link:
                changes.append((child, parent))
            if self.status.get(key) == "unchanged":
                report.unchanged -= 1
                report.updated += 1
        if write:
            rows_update(Account, ["parent_id"], changes)
        report.extra["parents_linked"] = linked


class NewAccount(NamedTuple):
    """An account a contact row names that does not exist: by the domain in the cell, or by company."""

    domain: str = ""
    company: str = ""  # loose key of the company's name


@dataclass
class SimpleItem:
    row: int
    key: Any
    pk: int | None
    values: dict[str, Any]
    soft: dict[str, Any] = field(default_factory=dict)
    new_account: str | None = None  # the domain of an account this import creates for the row


class ProductImporter(Importer):
    """Products, upserted by their loose name key (``GTX Pro`` = ``GTXPro``)."""

    kind = "products"
    model = Product
    update_fields = ["name", "key", "series", "list_price"]

    def load(self) -> None:
        self.existing = dict(Product.objects.values_list("key", "id"))

    def parse(self, row: Row) -> SimpleItem | None:
        values = {f: self.value(row, f) for f in ("name", "series", "list_price")}
        if INVALID in values.values():
            return None
        key = normalize_key(values["name"])
        if not key:
            self.ctx.error(row, "name", self.raw(row, "name"), "needs at least one letter or digit")
            return None
        values["key"] = key
        values = {k: v for k, v in values.items() if v is not None}
        return SimpleItem(row=row.number, key=key, pk=self.existing.get(key), values=values)

    def register(self, row: Row, item: SimpleItem) -> None:
        self.unique(row, item.key, "name", "product name (ignoring case, spaces and punctuation)")

    def write(self, items: list[SimpleItem], *, write: bool) -> None:
        self.upsert([Plan(row=i.row, pk=i.pk, values=i.values) for i in items], write=write)


class SalesAgentImporter(Importer):
    """Sales agents, upserted by name."""

    kind = "sales_agents"
    model = SalesAgent
    update_fields = ["name", "manager", "regional_office"]

    def load(self) -> None:
        self.existing = {name_key(n): pk for pk, n in SalesAgent.objects.values_list("id", "name")}

    def parse(self, row: Row) -> SimpleItem | None:
        values = {f: self.value(row, f) for f in ("name", "manager", "regional_office")}
        if INVALID in values.values():
            return None
        key = name_key(values["name"])
        values = {k: v for k, v in values.items() if v is not None}
        return SimpleItem(row=row.number, key=key, pk=self.existing.get(key), values=values)

    def register(self, row: Row, item: SimpleItem) -> None:
        self.unique(row, item.key, "name", "agent name")

    def write(self, items: list[SimpleItem], *, write: bool) -> None:
        self.upsert([Plan(row=i.row, pk=i.pk, values=i.values) for i in items], write=write)


class OpportunityImporter(Importer):
    """Opportunities, upserted by external id; account, product, agent, channel, campaign by name."""

    kind = "opportunities"
    model = Opportunity
    update_fields = [
        "name",
        "account_id",
        "product_id",
        "amount",
        "stage",
        "created_date",
        "engaged_date",
        "close_date",
        "channel_id",
        "source_campaign_id",
        "sales_agent_id",
    ]

    def load(self) -> None:
        self.accounts = AccountIndex()
        self.products = NameIndex(
            Product.objects.values_list("id", "name"), "product", "products", "import products first"
        )
        self.agents = NameIndex(
            SalesAgent.objects.values_list("id", "name"), "sales agent", "agents", "import sales agents first"
        )
        self.channels = NameIndex(
            Channel.objects.values_list("id", "name", "slug"),
            "channel",
            "channels",
            "add it under Administration → Accounts → Channels first",
        )
        self.campaigns = NameIndex(
            Campaign.objects.values_list("id", "name"), "campaign", "campaigns", "create the campaign first"
        )
        self.product_names = dict(Product.objects.values_list("id", "name"))

    def parse(self, row: Row) -> SimpleItem | None:
        v = {
            "external_id": self.value(row, "external_id"),
            "name": self.value(row, "name"),
            "account_id": self.ref(row, "account", self.accounts.resolve),
            "product_id": self.ref(row, "product", self.products.resolve),
            "stage": self.value(row, "stage"),
            "created_date": self.value(row, "created_date"),
            "engaged_date": self.value(row, "engaged_date"),
            "close_date": self.value(row, "close_date"),
            "amount": self.value(row, "amount"),
            "sales_agent_id": self.ref(row, "sales_agent", self.agents.resolve),
            "channel_id": self.ref(row, "channel", self.channels.resolve),
            "source_campaign_id": self.ref(row, "campaign", self.campaigns.resolve),
        }
        if INVALID in v.values():
            return None
        if v["close_date"] and v["engaged_date"] and v["close_date"] < v["engaged_date"]:
            self.ctx.error(
                row,
                "close_date",
                self.raw(row, "close_date"),
                f"is before the engage date {v['engaged_date'].isoformat()}",
            )
            return None
        soft = {}
        if v["name"] is None:
            product = self.product_names.get(v["product_id"]) if v["product_id"] else None
            account = self.accounts.names.get(v["account_id"]) if v["account_id"] else None
            soft["name"] = f"{product or 'Deal'} — {account or 'no account'}"[:200]
        values = {k: x for k, x in v.items() if x is not None}
        return SimpleItem(row=row.number, key=v["external_id"], pk=None, values=values, soft=soft)

    def register(self, row: Row, item: SimpleItem) -> None:
        self.unique(row, item.key, "external_id", "opportunity id")

    def check_merged(self, merged: dict[str, Any]) -> tuple[str, str] | None:
        engaged, closed = merged.get("engaged_date"), merged.get("close_date")
        if engaged and closed and closed < engaged:
            return "close_date", (
                f"the close date {closed.isoformat()} would be before the engage date {engaged.isoformat()} "
                "(one of them is already stored)"
            )
        return None

    def write(self, items: list[SimpleItem], *, write: bool) -> None:
        existing = dict(
            Opportunity.objects.filter(external_id__in=[i.key for i in items]).values_list(
                "external_id", "id"
            )
        )
        plans = [Plan(row=i.row, pk=existing.get(i.key), values=i.values, soft=i.soft) for i in items]
        self.upsert(plans, write=write)

    def written(self, rows, current) -> None:
        # An opportunity changes its account's in-market features and, while open, its buying stage.
        records_imported.send(sender=Opportunity, contact_ids=set(), account_ids=_account_ids(rows, current))


MAX_STAGE_VALUES = 100  # distinct stage cells listed with what they become
STAGE_NEEDS_DECIDER = (
    "only members and leads of a sales, BDR/SDR or revenue-operations team record an imported stage past MQL"
)


def lifecycle_summary(
    *, column: str, importable: set[str], recycle_below: float | None = None
) -> dict[str, Any]:
    """What an import does with its stage column, for the report: the policy in words, then counts.
    ``recycle_below``: the published rules' recycle threshold, to say what becomes of an imported MQL."""
    policy = (
        "Not written to contacts directly. A new contact starts as Lead; the lifecycle service then records "
        'the stage the file gives as where it stood before (a move decided "Imported", by the importing '
        "user, with the file's name as its reason, audited; nobody is notified). A stored contact keeps its "
        "stage: that moves only by sales' decisions and the rules."
    )
    if recycle_below is not None:
        policy += (
            " An imported MQL is then held to our rules like any other: while its engagement here stays "
            f"below {words.number(recycle_below)} (the published rules' recycle threshold), the next "
            "rescore recycles it, so import its engagement events too, or expect those MQLs back as Recycled."
        )
    refused = [LifecycleStage(s).label for s in LifecycleStage.values if s not in importable]
    if refused:
        policy += (
            f" This import records Lead and MQL only: {', '.join(refused)} are reported, not recorded "
            f"({STAGE_NEEDS_DECIDER})."
        )
    return {
        "column": column,
        "policy": policy,
        "values": {},
        "new": 0,
        "lead": 0,
        "stored": 0,
        "not_recorded": 0,
    }


STAGE_OF_EXISTING_IGNORED = (
    "stage not changed: the contact exists, and a stored contact's stage moves only through lifecycle "
    "decisions and automatic moves"
)


class ContactImporter(Importer):
    """Contacts, upserted by e-mail; the account by name or domain, else by the e-mail's domain.

    A stage column is a new contact's starting stage (recorded as a ``LifecycleTransition`` from Lead,
    by the importing user); for a contact that exists it is ignored with a warning: the stage moves only
    through the lifecycle services, which check who may decide.
    """

    kind = "contacts"
    model = Contact
    soft_fills = {"seniority": Seniority.UNKNOWN}
    # Not lifecycle_stage: it is set on creation only (see the class docstring).
    update_fields = [
        "email",
        "first_name",
        "last_name",
        "title",
        "seniority",
        "department",
        "country",
        "persona_id",
        "account_id",
        "owner_id",
        "owner_team_id",
        "custom",
    ]

    def load(self) -> None:
        self.accounts = AccountIndex()
        self.owners = OwnerIndex()
        self.personas = NameIndex(
            Persona.objects.values_list("id", "name"), "persona", "personas", "create the persona first"
        )
        self.persona_matcher = persona_matcher()
        # A stage column is never written to contacts: the lifecycle service records new contacts' stages.
        self.new_stages: dict[str, str] = {}  # e-mail → the stage to record once the contact exists
        self.importable_stages: set[str] = set()
        if "lifecycle_stage" in self.index:
            self.importable_stages = importable_stages(self.ctx.actor)
            live = published_ruleset()
            self.ctx.report.lifecycle = lifecycle_summary(
                column=self.ctx.column("lifecycle_stage"),
                importable=self.importable_stages,
                recycle_below=live.recycle_below if live is not None else None,
            )
        # Accounts the file names but nobody imported: pass 1 plans them, pass 2 creates them.
        self.new_domain_of: dict[str, str] = {}  # company (loose key) → the domain of its first row
        self.new_name_of: dict[str, str] = {}  # domain → the company name its first row gives
        self.new_rows: list[tuple[int, NewAccount, str, str]] = []  # (row, plan, company, domain): the report
        self.account_ids: dict[str, int] = {}  # domain → id of the account created (made up in a dry run)
        self.created_account_ids: list[int] = []  # created by this chunk, routed once its contacts are

    def _account(self, row: Row, email: Any) -> tuple[Any, NewAccount | None]:
        """The account cell → (account id, None), or (None, plan) for an account to create.

        An unknown company is created at the e-mail's domain (or at the domain the cell gives); the
        account of that domain is used if it exists; a free-mail domain founds no account.
        """
        raw = self.value(row, "account")
        if raw is None or raw is INVALID:
            return raw, None
        pk, note, error = self.accounts.match(raw)
        if error:
            self.ctx.error(row, "account", self.raw(row, "account"), error)
            return INVALID, None
        if pk is not None:
            if note:
                self.ctx.warn(row, "account", note)
            return pk, None
        if email is None or email is INVALID:
            return None, None  # the row is rejected for its e-mail
        named = _as_domain(raw)
        domain = named or email_domain(email)
        pk = None if domain in FREE_MAIL_DOMAINS else self.accounts.by_domain.get(domain)
        if pk is not None:
            self.ctx.warn(
                row,
                "account",
                f"no account is named '{raw}': the account of the e-mail's domain {domain} "
                f"('{self.accounts.names[pk]}') was used",
            )
            return pk, None
        name = account_name_from_domain(domain) if named else raw
        if len(name) > 200:
            self.ctx.error(row, "account", raw, f"is {len(name)} characters long; an account name fits 200")
            return INVALID, None
        plan = NewAccount(domain=domain) if named else NewAccount(company=loose_key(name))
        if self.ctx.first_pass:
            if domain not in FREE_MAIL_DOMAINS:
                self.new_name_of.setdefault(domain, name)
                if not named:
                    self.new_domain_of.setdefault(plan.company, domain)
            self.new_rows.append((row.number, plan, name, domain))
        return None, plan

    def _planned_domain(self, plan: NewAccount) -> str | None:
        """The domain of the account a plan creates: the domain the cell named, else the domain of
        the first row naming the company with a company address; None if only free mail names it."""
        if plan.domain:
            return None if plan.domain in FREE_MAIL_DOMAINS else plan.domain
        return self.new_domain_of.get(plan.company)

    def parse(self, row: Row) -> SimpleItem | None:
        email = self.value(row, "email")
        account_id, plan = self._account(row, email)
        v = {
            "email": email,
            "first_name": self.value(row, "first_name"),
            "last_name": self.value(row, "last_name"),
            "title": self.value(row, "title"),
            "seniority": self.value(row, "seniority"),
            "department": self.value(row, "department"),
            "country": self.value(row, "country"),
            "lifecycle_stage": self.value(row, "lifecycle_stage"),
            "persona_id": self.ref(row, "persona", self.personas.resolve),
            "account_id": account_id,
            **self.owners.owners(self, row),
        }
        full = self.value(row, "full_name")
        if self.ctx.first_pass and isinstance(v["lifecycle_stage"], str):
            self._stage_value_count(row, v["lifecycle_stage"])
        if INVALID in v.values() or full is INVALID:
            return None
        soft = {}
        if full and v["first_name"] is None and v["last_name"] is None:
            first, _, last = full.partition(" ")
            v["first_name"], v["last_name"] = first[:100], last[:100]
        if v["account_id"] is None and not self.raw(row, "account").strip():
            matched = self.accounts.by_domain.get(email_domain(v["email"]))
            if matched:
                soft["account_id"] = matched
        soft.update(self._from_title(row, v))
        values = {k: x for k, x in v.items() if x is not None}
        custom = self.custom(row)
        if custom:
            values["custom"] = custom
        new_account = self._planned_domain(plan) if plan is not None and not self.ctx.first_pass else None
        return SimpleItem(
            row=row.number, key=v["email"], pk=None, values=values, soft=soft, new_account=new_account
        )

    def _stage_value_count(self, row: Row, stage: str) -> None:
        """Count a stage cell by its value, for the preview's table of what each value becomes."""
        values = self.ctx.report.lifecycle["values"]
        raw = " ".join(self.raw(row, "lifecycle_stage").split())
        entry = values.get(loose_key(raw))
        if entry is None:
            if len(values) >= MAX_STAGE_VALUES:
                return
            label = LifecycleStage(stage).label
            entry = values[loose_key(raw)] = {"value": raw, "stage": stage, "label": label, "count": 0}
        entry["count"] += 1

    def _from_title(self, row: Row, v: dict[str, Any]) -> dict[str, Any]:
        """The seniority and persona a row's title says, where the row gives none: soft values (a new
        contact gets them; a stored one only where its seniority is unknown or it has no persona)."""
        title = v["title"]
        if not title:
            return {}
        soft: dict[str, Any] = {}
        seniority = v["seniority"]
        if seniority is None:
            seniority = seniority_from_title(title)
            if seniority != Seniority.UNKNOWN:
                soft["seniority"] = seniority
                self.ctx.warn(
                    row, "title", f"no seniority given: read from the title as {Seniority(seniority).label}"
                )
        if v["persona_id"] is None:
            persona = self.persona_matcher.match(title=title, seniority=seniority, department=v["department"])
            if persona is not None:
                soft["persona_id"] = persona.id
                self.ctx.warn(
                    row, "title", f"no persona given: mapped by the title to the persona '{persona.name}'"
                )
        return soft

    def register(self, row: Row, item: SimpleItem) -> None:
        self.unique(row, item.key, "email", "e-mail")

    def validate_all(self) -> None:
        """Say, per company, which account its rows get: a new one, or none (free mail only)."""
        report, column = self.ctx.report, self.ctx.column("account")
        listed: set[str] = set()
        for number, plan, name, own_domain in self.new_rows:
            if number in self.ctx.bad_rows:
                continue
            domain = self._planned_domain(plan)
            if domain is None:
                message = (
                    f"unknown account '{name}' not created: {own_domain} is a free-mail provider, not the "
                    "company's domain; imported without an account"
                )
                more = "more unknown accounts not created: only free-mail addresses name them"
            else:
                message = f"unknown account '{self.new_name_of[domain]}': created, with the domain {domain}"
                more = "more unknown accounts created, each with the domain of its first contact's e-mail"
            if message not in listed and len(listed) >= NEW_ACCOUNTS_LISTED:
                message = more  # a file naming thousands of companies gets a report, not a phone book
            listed.add(message)
            report.add_warning(row=number, column=column, message=message)

    def _accounts_create(self, domains: set[str], *, write: bool) -> None:
        """Create the accounts of ``domains`` (one INSERT; made-up ids in a dry run)."""
        missing = sorted(domains - self.account_ids.keys())
        if not missing:
            return
        if write:
            # ignore_conflicts: an import or an event batch may have created the domain meanwhile.
            Account.objects.bulk_create(
                [Account(name=self.new_name_of[d], domain=d) for d in missing],
                ignore_conflicts=True,
                batch_size=WRITE_BATCH,
            )
            created = dict(Account.objects.filter(domain__in=missing).values_list("domain", "id"))
            self.account_ids.update(created)
            self.created_account_ids += created.values()
        else:
            self.account_ids.update((d, -(len(self.account_ids) + 1)) for d in missing)
        report = self.ctx.report
        report.extra["accounts_created"] = report.extra.get("accounts_created", 0) + len(missing)

    def write(self, items: list[SimpleItem], *, write: bool) -> None:
        self._accounts_create({i.new_account for i in items if i.new_account}, write=write)
        for item in items:
            if item.new_account:
                item.values["account_id"] = self.account_ids[item.new_account]
        stored = {
            email: (pk, stage)
            for email, pk, stage in Contact.objects.filter(email__in=[i.key for i in items]).values_list(
                "email", "id", "lifecycle_stage"
            )
        }
        existing = {email: pk for email, (pk, _stage) in stored.items()}
        for item in items:
            self._stage_plan(item, stored.get(item.key))
        plans = [Plan(row=i.row, pk=existing.get(i.key), values=i.values, soft=i.soft) for i in items]
        matched = sum(1 for p in plans if p.pk is None and p.soft.get("account_id"))
        self.ctx.report.extra["accounts_matched_by_email_domain"] = (
            self.ctx.report.extra.get("accounts_matched_by_email_domain", 0) + matched
        )
        self.upsert(plans, write=write)

    def written(self, rows, current) -> None:
        contact_ids = {pk for _p, pk, _s in rows if pk is not None}
        emails = [{**p.soft, **p.values}["email"] for p, pk, _s in rows if pk is None]  # created by COPY
        created: list[int] = []
        for start in range(0, len(emails), WRITE_BATCH):
            chunk = emails[start : start + WRITE_BATCH]
            created += Contact.objects.filter(email__in=chunk).values_list("id", flat=True)
        contact_ids.update(created)
        # New contacts without an owner column get one: their account's owner, else by territory (the
        # accounts this file created are routed first, so their people follow them).
        accounts_route(account_ids=self.created_account_ids, actor=self.ctx.actor, reason="imported")
        self.created_account_ids = []
        contacts_route(contact_ids=created, actor=self.ctx.actor, reason="imported")
        self._starting_stages_record(emails)
        records_imported.send(
            sender=Contact, contact_ids=contact_ids, account_ids=_account_ids(rows, current)
        )

    def _stage_plan(self, item: SimpleItem, stored: tuple[int, str] | None) -> None:
        """Take the row's stage out of what is written to the contact: a new contact's is recorded by
        the lifecycle service once the contact exists (if the importer may record it), a stored one's is
        ignored; each case counted and said in the report."""
        stage = item.values.pop("lifecycle_stage", None)
        if stage is None:
            return
        report, column = self.ctx.report, self.ctx.column("lifecycle_stage")
        summary = report.lifecycle
        if stored is not None:
            summary["stored"] += 1
            if stage != stored[1]:
                report.add_warning(row=item.row, column=column, message=STAGE_OF_EXISTING_IGNORED)
        elif stage == LifecycleStage.LEAD:
            summary["lead"] += 1
        elif stage in self.importable_stages:
            summary["new"] += 1
            self.new_stages[item.key] = stage
        else:
            summary["not_recorded"] += 1
            report.add_warning(
                row=item.row,
                column=column,
                message=f"{LifecycleStage(stage).label} not recorded: {STAGE_NEEDS_DECIDER}; "
                "the new contact starts as Lead",
            )

    def _starting_stages_record(self, created_emails: list[str]) -> None:
        """The stages of the new contacts, recorded through the lifecycle service (never written here)."""
        stages = {e: self.new_stages.pop(e) for e in created_emails if e in self.new_stages}
        if not stages:
            return
        by_id = {
            pk: stages[email]
            for email, pk in Contact.objects.filter(email__in=list(stages)).values_list("email", "id")
        }
        source = (
            f"Starting stage from the CSV import of {self.ctx.report.file} "
            f"(column '{self.ctx.column('lifecycle_stage')}')"
        )
        moved = contacts_stage_import(stages=by_id, user=self.ctx.actor, source=source)
        extra = self.ctx.report.extra
        extra["starting_stages_recorded"] = extra.get("starting_stages_recorded", 0) + moved


IMPORTERS: dict[str, type[Importer]] = {
    cls.kind: cls
    for cls in (AccountImporter, ContactImporter, OpportunityImporter, ProductImporter, SalesAgentImporter)
}
