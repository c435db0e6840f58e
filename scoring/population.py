"""Reading what the rules engine needs from the database, as frames, in a few set-based queries.

The batch rescore reads contacts by id range; the incremental path reads a handful of ids; both use
these functions so that they see exactly the same data in the same order.
"""

import datetime
import json
from collections import defaultdict

import numpy as np
import pandas as pd
from django.db import connection

from accounts.freemail import FREE_MAIL_DOMAINS
from accounts.models import (
    Account,
    AccountActivityDaily,
    Contact,
    ContactActivityDaily,
    EngagementEvent,
    Opportunity,
    Persona,
)
from accounts.normalize import activity_key
from revops.bulk import frame_read, ids_condition, is_postgres, table_sql
from scoring.engine.rules import (
    ACTIVITY_COLUMNS,
    CAMPAIGN_COLUMNS,
    Population,
    RulesetSpec,
    RuleSpec,
    day_ordinal,
    empty_activity,
)
from scoring.models import ContactScore, LifecycleTransition, Ruleset


def spec_for(ruleset: Ruleset) -> RulesetSpec:
    """Compile a ruleset version (and its rules, in position order) for the engine."""
    rules = tuple(
        RuleSpec(
            id=r.pk,
            name=r.name,
            kind=r.kind,
            points=float(r.points),
            field=r.field,
            operator=r.operator,
            value=r.value,
            event_type=r.event_type,
            url_pattern=r.url_pattern,
            topic=r.topic,
            campaign_id=r.campaign_id,
            min_count=r.min_count,
            window_days=r.window_days,
            repeatable=r.repeatable,
            cap=r.cap,
            half_life_days=r.half_life_days,
        )  # fmt: skip
        for r in ruleset.rules.order_by("position", "id")
    )
    return RulesetSpec(
        id=ruleset.pk,
        number=ruleset.number,
        rules=rules,
        required_fields=tuple(ruleset.required_fields or ()),
        mql_fit_min=ruleset.mql_fit_min,
        mql_engagement_min=ruleset.mql_engagement_min,
        recycle_below=ruleset.recycle_below,
        fit_a=ruleset.fit_grade_a_min,
        fit_b=ruleset.fit_grade_b_min,
        engagement_1=ruleset.engagement_grade_1_min,
        engagement_2=ruleset.engagement_grade_2_min,
        sal_enabled=ruleset.sal_enabled,
        exclude_free_mail=ruleset.exclude_free_mail,
        free_mail_domains=FREE_MAIL_DOMAINS,
        excluded_title_pattern=ruleset.excluded_title_pattern,
        excluded_industries=frozenset(str(v).strip().lower() for v in ruleset.excluded_industries or ()),
        excluded_countries=frozenset(str(v).strip().upper() for v in ruleset.excluded_countries or ()),
        competitor_domains=frozenset(str(v).strip().lower() for v in ruleset.competitor_domains or ()),
        fast_track=tuple(ruleset.fast_track_event_types or ()),
    )


def _day_sql(column: str) -> str:
    """A DATE column as days since 1970-01-01, in SQL."""
    if is_postgres():
        return f"({column} - DATE '1970-01-01')"
    return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"


def _json(value):
    if value is None or value == "":
        return None
    if isinstance(value, dict | list):
        return value
    return json.loads(value)


def _uses(spec: RulesetSpec, prefix: str) -> bool:
    return any(r.field.startswith(prefix) for r in spec.fit_rules)


# Text reads as "" where it is NULL (no persona, no account): the engine treats both as missing. A custom
# column is JSON text, or "" where the ruleset does not look at it.
CONTACT_KINDS = {
    "contact_id": "int", "account_id": "float", "email": "text", "first_name": "text", "last_name": "text",
    "title": "text", "seniority": "text", "department": "text", "country": "text", "persona": "text",
    "custom": "text", "lifecycle_stage": "text", "created_day": "int",
    "account.industry": "text", "account.employee_count": "float", "account.annual_revenue": "float",
    "account.country": "text", "account.domain": "text", "account.name": "text", "account.custom": "text",
}  # fmt: skip
CONTACT_COLUMNS = list(CONTACT_KINDS)


def contacts_frame(spec: RulesetSpec, *, where: str = "", params: list | None = None) -> pd.DataFrame:
    """Contacts (with their account's fields) matching ``where`` on alias ``c``, sorted by id."""
    custom = _uses(spec, "custom.")
    account_custom = _uses(spec, "account.custom.")
    sql = f"""
        SELECT c.id, c.account_id, c.email, c.first_name, c.last_name, c.title, c.seniority, c.department,
               c.country, p.name, {"c.custom" if custom else "NULL"}, c.lifecycle_stage, {_created_day_sql()},
               a.industry, a.employee_count, a.annual_revenue, a.country, a.domain, a.name,
               {"a.custom" if account_custom else "NULL"}
        FROM {table_sql(Contact)} c
        LEFT JOIN {table_sql(Account)} a ON a.id = c.account_id
        LEFT JOIN {table_sql(Persona)} p ON p.id = c.persona_id
        {"WHERE " + where if where else ""}
        ORDER BY c.id
    """
    frame = frame_read(sql, params or [], CONTACT_KINDS)
    frame["account_id"] = frame["account_id"].astype("float64")
    frame["created_day"] = frame["created_day"].astype("int64")
    for column in ("account.employee_count", "account.annual_revenue"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    if custom:
        frame["custom"] = [_json(v) for v in frame["custom"]]
    if account_custom:
        frame["account.custom"] = [_json(v) for v in frame["account.custom"]]
    _technologies(spec, frame)
    return frame


def _stamp_day_sql(expression: str) -> str:
    """A timestamp's UTC day as days since 1970-01-01, in SQL: integers cross the wire, not datetimes."""
    if is_postgres():
        return f"(({expression} AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"
    return f"CAST(julianday({expression}) - 2440587.5 AS INTEGER)"


def _created_day_sql() -> str:
    return _stamp_day_sql("c.created")


def accounts_frame(spec: RulesetSpec, *, where: str = "", params: list | None = None) -> pd.DataFrame:
    """Accounts matching ``where`` on alias ``a``, with the ``account.*`` columns, sorted by id."""
    account_custom = _uses(spec, "account.custom.")
    sql = f"""
        SELECT a.id, a.industry, a.employee_count, a.annual_revenue, a.country, a.domain, a.name,
               {"a.custom" if account_custom else "NULL"}
        FROM {table_sql(Account)} a {"WHERE " + where if where else ""} ORDER BY a.id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        rows = cursor.fetchall()
    columns = ["account_id"] + [c for c in CONTACT_COLUMNS if c.startswith("account.")]
    frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
    frame["account_id"] = frame["account_id"].astype("int64")
    for column in ("account.employee_count", "account.annual_revenue"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    if account_custom:
        frame["account.custom"] = [_json(v) for v in frame["account.custom"]]
    _technologies(spec, frame)
    return frame


def _technologies(spec: RulesetSpec, frame: pd.DataFrame) -> None:
    """Fill ``account.technologies`` (a sorted tuple of names) when a rule looks at it."""
    if not any(r.field == "account.technologies" for r in spec.fit_rules):
        frame["account.technologies"] = [()] * len(frame)
        return
    ids = sorted({int(a) for a in frame["account_id"].dropna()})
    through = Account.technologies.through
    names: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(ids), 50_000):
        clause, params = ids_condition("at.account_id", ids[start : start + 50_000])
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT at.account_id, t.name FROM {table_sql(through)} at "
                f"JOIN accounts_technology t ON t.id = at.technology_id WHERE {clause}",
                params,
            )
            for account_id, name in cursor.fetchall():
                names[account_id].append(name)
    # One sorted tuple per account, shared by its contacts (a tuple per contact cost a full rescore seconds).
    by_account = pd.Series({a: tuple(sorted(n)) for a, n in names.items()}, dtype=object)
    techs = np.array(frame["account_id"].map(by_account).to_numpy(dtype=object), dtype=object)
    none = ()
    for i in np.flatnonzero(pd.isna(techs)):
        techs[i] = none
    frame["account.technologies"] = techs


def _activity(sql: str, params: list, columns: list[str]) -> pd.DataFrame:
    """Rollup rows (``ACTIVITY_COLUMNS``, or ``CAMPAIGN_COLUMNS``): read with ``frame_read``, whose COPY
    path on PostgreSQL halves the read of a chunk's hundreds of thousands of rows."""
    kinds = {column: "text" if column in ("event_type", "key") else "int" for column in columns}
    frame = frame_read(sql, params, kinds)
    if frame.empty:
        return empty_activity("campaign_id" in columns)
    for column in ("entity", "day", "count", "campaign_id"):
        if column in frame.columns:
            frame[column] = frame[column].astype("int64")
    return frame


def _window(spec: RulesetSpec, as_of: datetime.date, column: str, extra_days: int = 0) -> tuple[str, list]:
    clause, params = f"{column} <= %s", [as_of]
    lookback = spec.lookback_days
    if lookback is not None:
        lookback += extra_days
        clause += f" AND {column} > %s"
        params.append(as_of - datetime.timedelta(days=lookback))
    return clause, params


def contact_activity(
    spec: RulesetSpec, as_of: datetime.date, *, where: str, params: list, extra_days: int = 0
) -> pd.DataFrame:
    """Contact rollups up to ``as_of`` (``where`` on alias ``r``), sorted as the engine needs;
    ``extra_days`` reaches further back than the rules' lookback (for replays over past weeks)."""
    window, window_params = _window(spec, as_of, "r.day", extra_days)
    sql = f"""
        SELECT r.contact_id, {_day_sql("r.day")}, r.event_type, r.key, r.count
        FROM {table_sql(ContactActivityDaily)} r WHERE {window} AND {where}
        ORDER BY r.contact_id, r.day, r.event_type, r.key
    """
    return _activity(sql, window_params + params, ACTIVITY_COLUMNS)


def anonymous_activity(spec: RulesetSpec, as_of: datetime.date, *, where: str, params: list) -> pd.DataFrame:
    """Account rollups of activity by no known contact (``where`` on alias ``r``)."""
    window, window_params = _window(spec, as_of, "r.day")
    sql = f"""
        SELECT r.account_id, {_day_sql("r.day")}, r.event_type, r.key, r.count - r.known_count
        FROM {table_sql(AccountActivityDaily)} r WHERE r.count > r.known_count AND {window} AND {where}
        ORDER BY r.account_id, r.day, r.event_type, r.key
    """
    return _activity(sql, window_params + params, ACTIVITY_COLUMNS)


def campaign_activity(
    spec: RulesetSpec, as_of: datetime.date, *, entity: str, where: str, params: list, extra_days: int = 0
) -> pd.DataFrame:
    """Events of the campaigns that rules name, folded like the rollups; ``entity`` is ``contact_id``
    or ``account_id`` (then only events of no known contact). Raw events, but only campaign ones."""
    if not spec.campaign_ids:
        return empty_activity(True)
    end = datetime.datetime.combine(as_of + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
    clause, campaign_params = ids_condition("e.campaign_id", sorted(spec.campaign_ids))
    anonymous = " AND e.contact_id IS NULL" if entity == "account_id" else ""
    sql = f"""
        SELECT e.{entity}, e.occurred_at, e.event_type, e.url, e.topic, e.campaign_id
        FROM {table_sql(EngagementEvent)} e
        WHERE {clause} AND e.occurred_at < %s AND e.{entity} IS NOT NULL{anonymous} AND {where}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*campaign_params, end, *params])
        rows = cursor.fetchall()
    lookback = spec.lookback_days
    first = day_ordinal(as_of) - lookback - extra_days if lookback is not None else None
    folded: dict[tuple, int] = defaultdict(int)
    for entity_id, occurred_at, event_type, url, topic, campaign_id in rows:
        day = day_ordinal(as_date(occurred_at))
        if first is not None and day <= first:
            continue
        key = activity_key(event_type=event_type, url=url, topic=topic)
        folded[(entity_id, day, event_type, key, campaign_id)] += 1
    if not folded:
        return empty_activity(True)
    records = [(e, d, t, k, n, c) for (e, d, t, k, c), n in sorted(folded.items())]
    frame = pd.DataFrame.from_records(records, columns=CAMPAIGN_COLUMNS)
    return frame.sort_values(["entity", "day", "event_type", "key"], kind="stable").reset_index(drop=True)


def contact_population(
    spec: RulesetSpec,
    as_of: datetime.date,
    *,
    contact_where: str,
    contact_params: list,
    activity_where: str,
    activity_params: list,
    event_where: str,
    event_params: list,
    contacts: pd.DataFrame | None = None,
) -> Population:
    """Contacts matching ``contact_where`` and their activity as of ``as_of``. ``contacts``: their frame as
    ``contacts_frame`` read it for the same ruleset (it does not depend on the day), not read again."""
    if contacts is None:
        contacts = contacts_frame(spec, where=contact_where, params=contact_params)
    return Population(
        contacts=contacts,
        accounts=pd.DataFrame({"account_id": pd.Series(dtype="int64")}),
        activity=contact_activity(spec, as_of, where=activity_where, params=activity_params),
        anonymous=empty_activity(),
        campaign_activity=campaign_activity(
            spec, as_of, entity="contact_id", where=event_where, params=event_params
        ),
        anonymous_campaign=empty_activity(True),
    )  # fmt: skip


def contacts_by_range(
    spec: RulesetSpec, as_of: datetime.date, low: int, high: int, *, contacts: pd.DataFrame | None = None
) -> Population:
    """Contacts with ``low <= id < high`` and their activity (``contacts``: see ``contact_population``)."""
    return contact_population(
        spec, as_of,
        contact_where="c.id >= %s AND c.id < %s", contact_params=[low, high],
        activity_where="r.contact_id >= %s AND r.contact_id < %s", activity_params=[low, high],
        event_where="e.contact_id >= %s AND e.contact_id < %s", event_params=[low, high], contacts=contacts,
    )  # fmt: skip


def contacts_by_ids(spec: RulesetSpec, as_of: datetime.date, ids) -> Population:
    ids = sorted({int(i) for i in ids})
    c_clause, c_params = ids_condition("c.id", ids)
    r_clause, r_params = ids_condition("r.contact_id", ids)
    e_clause, e_params = ids_condition("e.contact_id", ids)
    return contact_population(
        spec, as_of, contact_where=c_clause, contact_params=c_params, activity_where=r_clause,
        activity_params=r_params, event_where=e_clause, event_params=e_params,
    )  # fmt: skip


def account_population(
    spec: RulesetSpec,
    as_of: datetime.date,
    *,
    ids=None,
    low: int | None = None,
    high: int | None = None,
    scores: pd.DataFrame | None = None,
    accounts: pd.DataFrame | None = None,
) -> tuple[Population, pd.DataFrame]:
    """Accounts (these ``ids``, or ``low <= id < high``), their anonymous activity, and their contacts'
    scores: ``scores`` if the caller has them (``contact_id, account_id, fit, engagement, excluded``
    sorted by contact id), else the stored ones. ``accounts``: their frame as ``accounts_frame`` read it
    for the same ruleset and accounts (it does not depend on the day), not read again."""
    if ids is not None:
        ids = sorted({int(i) for i in ids})
        (a, ap), (r, rp), (e, ep), (c, cp) = (
            ids_condition(column, ids) for column in ("a.id", "r.account_id", "e.account_id", "c.account_id")
        )
    else:
        columns = ("a.id", "r.account_id", "e.account_id", "c.account_id")
        a, r, e, c = (f"{column} >= %s AND {column} < %s" for column in columns)
        ap = rp = ep = cp = [low, high]
    population = Population(
        contacts=pd.DataFrame(),
        accounts=accounts_frame(spec, where=a, params=ap) if accounts is None else accounts,
        activity=empty_activity(),
        anonymous=anonymous_activity(spec, as_of, where=r, params=rp),
        campaign_activity=empty_activity(True),
        anonymous_campaign=campaign_activity(spec, as_of, entity="account_id", where=e, params=ep),
    )
    if scores is None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT s.contact_id, c.account_id, s.fit, s.engagement, s.excluded "
                f"FROM {table_sql(ContactScore)} s JOIN {table_sql(Contact)} c ON c.id = s.contact_id "
                f"WHERE {c} ORDER BY s.contact_id",
                cp,
            )
            rows = cursor.fetchall()
        scores = pd.DataFrame.from_records(
            rows, columns=["contact_id", "account_id", "fit", "engagement", "excluded"]
        )
        scores["account_id"] = scores["account_id"].astype("float64")
    return population, scores


def lifecycle_context(
    contact_ids: np.ndarray,
    account_ids: np.ndarray,
    created_days,
    *,
    where: str = "",
    params: list | None = None,
) -> dict[str, np.ndarray]:
    """Per contact: the day of its last move (or creation), and its account's latest opportunity opened
    and won (day ordinals, -1 for none). ``where`` on alias ``t`` selects the contacts' transitions
    (default: by id)."""
    ids = np.asarray(contact_ids, dtype=np.int64)
    since = np.asarray(created_days, dtype=np.int64).copy()  # creation days, then the last moves
    if len(ids):
        if not where:
            where, params = ids_condition("t.contact_id", ids.tolist())
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t.contact_id, {_stamp_day_sql('MAX(t.at)')} FROM {table_sql(LifecycleTransition)} t "
                f"WHERE {where} GROUP BY t.contact_id",
                params or [],
            )
            rows = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
        if len(rows):
            positions = pd.Index(ids).get_indexer(rows[:, 0])
            inside = positions >= 0
            since[positions[inside]] = rows[inside, 1]
    accounts = sorted({int(a) for a in account_ids if not pd.isna(a)})
    opened: dict[int, int] = {}
    won: dict[int, int] = {}
    if accounts:
        clause, clause_params = ids_condition("o.account_id", accounts)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT o.account_id, MAX(o.created_date), "
                "MAX(CASE WHEN o.stage = 'won' THEN o.close_date END) "
                f"FROM {table_sql(Opportunity)} o WHERE {clause} GROUP BY o.account_id",
                clause_params,
            )
            for account_id, created_max, won_max in cursor.fetchall():
                if created_max:
                    opened[account_id] = day_ordinal(as_date(created_max))
                if won_max:
                    won[account_id] = day_ordinal(as_date(won_max))
    acc = pd.Series(account_ids, dtype="float64")
    return {
        "since": since,
        "opportunity_day": acc.map(opened).fillna(-1).to_numpy(dtype=np.int64),
        "won_day": acc.map(won).fillna(-1).to_numpy(dtype=np.int64),
    }


def as_date(value) -> datetime.date:
    if isinstance(value, str):
        value = (
            datetime.datetime.fromisoformat(value)
            if "T" in value or " " in value
            else datetime.date.fromisoformat(value)
        )
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return value.date()
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value
