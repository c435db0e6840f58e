"""Point-in-time features and labels for the in-market model.

Every read is bounded by ``as_of``: activity rollups with ``day <= as_of``, contacts' activity likewise,
opportunities created on or before it (their outcome only when closed on or before it). The frames say
which day their newest datum is from (``attrs["data_through"]``) and ``snapshots`` asserts it is not
after the snapshot date, so a feature built from the future fails loudly instead of leaking.

Firmographics, technologies and personas are read as they are now (they are slow-moving attributes and
have no history in the database); everything dated is point in time.
"""

import datetime
import re
from functools import cached_property

import numpy as np
import pandas as pd
from django.db import connection

from accounts.choices import CLOSED_STAGES, EventType, OpportunityStage
from accounts.models import Account, AccountActivityDaily, Contact, ContactActivityDaily, Opportunity, Persona
from revops.bulk import frame_read, ids_condition, table_sql
from revops.chunks import read_ahead
from scoring.learned.words import slug

WINDOWS = (7, 30, 90)
LOOKBACK = 180  # days of activity read per snapshot (windows, trends, recency)
NONE_DAYS = 9999  # "days since" when there was none
# Pages and actions of someone evaluating a purchase rather than reading.
RESEARCH_KEY = re.compile(r"pricing|compare|/vs|case-stud|/customers|roi|/demo|trial|/integrations|/product")
HIGH_INTENT_TYPES = ("demo_request", "free_trial", "meeting")
SENIOR = ("c_level", "vp", "director")
TOP_KEYS = 40


def _ordinal(day: datetime.date) -> int:
    return int(np.datetime64(day, "D").astype(np.int64))


def ids_normal(account_ids):
    """None (every account), an id ``range`` as it is, or the distinct ids sorted."""
    if account_ids is None or (isinstance(account_ids, range) and account_ids.step == 1):
        return account_ids
    return sorted({int(i) for i in account_ids})


def _day_number(column: str) -> str:
    """SQL for a date column as days since 1970-01-01 (``_ordinal`` of a date), per database."""
    if connection.vendor == "postgresql":
        return f"({column} - DATE '1970-01-01')"
    return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"


# --- reading -------------------------------------------------------------------------------------------
class _Dated:
    """Dated rows as numpy arrays sorted by day, so that every window of a snapshot is a slice (a view,
    found by binary search) instead of a filtered copy: ``pos`` is the row's account position in
    ``Source.index``; the other arrays are the columns the features count."""

    def __init__(self, frame: pd.DataFrame, index: pd.Index, **columns: np.ndarray):
        day = frame["day"].to_numpy(dtype=np.int64)
        pos = index.get_indexer(frame["account_id"].to_numpy())
        keep = np.flatnonzero(pos >= 0)
        order = keep[np.argsort(day[keep], kind="stable")]
        self.day = day[order]
        self.pos = pos[order].astype(np.int64)
        self.columns = {name: np.asarray(values)[order] for name, values in columns.items()}

    def __len__(self) -> int:
        return len(self.day)

    def between(self, t: int, younger: int, older: int) -> slice:
        """Rows aged ``younger <= age < older`` days at day ``t`` (age = t - day)."""
        low, high = np.searchsorted(self.day, [t - older, t - younger], side="right")
        return slice(int(low), int(high))


def _codes(values) -> tuple[np.ndarray, list]:
    """Integer codes of ``values`` (-1 for missing) and the distinct values they stand for."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object).to_numpy(dtype=object))
    return codes.astype(np.int64), [str(u) for u in uniques]


class Source:
    """What the features need, read once for the days ``(low, high]`` and reused for every snapshot.

    ``top_keys`` and ``categories`` (``categories_of``) fix the per-key and one-hot columns; without them
    they are the read accounts' own (a chunk of the accounts gets the whole population's from them)."""

    def __init__(
        self, *, low: datetime.date, high: datetime.date, account_ids=None, top_keys=None, categories=None
    ):
        self.low, self.high = low, high
        self.categories = categories
        ids = ids_normal(account_ids)
        a_clause, a_params = ids_condition("a.id", ids)
        self.accounts = frame_read(
            f"SELECT a.id, a.industry, a.employee_count, a.annual_revenue, a.founded_year, a.country "
            f"FROM {table_sql(Account)} a WHERE {a_clause} ORDER BY a.id",
            a_params,
            {"account_id": "int", "industry": "str", "employee_count": "float", "annual_revenue": "float",
             "founded_year": "float", "country": "str"},
        )  # fmt: skip
        self.index = pd.Index(self.accounts["account_id"].to_numpy(dtype=np.int64), name="account_id")
        through = Account.technologies.through
        t_clause, t_params = ids_condition("x.account_id", ids)
        self.technologies = frame_read(
            f"SELECT x.account_id, t.name FROM {table_sql(through)} x "
            f"JOIN accounts_technology t ON t.id = x.technology_id WHERE {t_clause}",
            t_params,
            {"account_id": "int", "technology": "str"},
        )
        r_clause, r_params = ids_condition("r.account_id", ids)
        activity = frame_read(
            f"SELECT r.account_id, {_day_number('r.day')}, r.event_type, r.key, r.count, r.known_count "
            f"FROM {table_sql(AccountActivityDaily)} r WHERE r.day > %s AND r.day <= %s AND {r_clause}",
            [low, high, *r_params],
            {"account_id": "int", "day": "int", "event_type": "str", "key": "str", "count": "float",
             "known_count": "float"},
        )  # fmt: skip
        types, self.type_names = _codes(activity["event_type"])
        keys, self.key_names = _codes(activity["key"])
        research_keys = {n for n, k in enumerate(self.key_names) if RESEARCH_KEY.search(k)}
        intent = self.type_names.index(EventType.INTENT) if EventType.INTENT in self.type_names else -2
        research = np.isin(keys, list(research_keys)) & (types != intent)
        # The most frequent intent topics and research pages, each a feature: which ones signal a
        # purchase is learnt, not configured.
        counts = activity["count"].to_numpy(dtype=float)
        chosen = ((types == intent) | research) & (keys >= 0)
        if top_keys is None:
            tops = pd.Series(counts[chosen]).groupby([types[chosen], keys[chosen]]).sum().reset_index()
            tops.columns = ["type", "key", "count"]
            tops["type"] = np.asarray(self.type_names, dtype=object)[tops["type"].to_numpy()]
            tops["key"] = np.asarray(self.key_names, dtype=object)[tops["key"].to_numpy()]
            self.top_keys = _tops(tops)
        else:
            self.top_keys = [(str(e), str(k)) for e, k in top_keys]
        # Each row's position in ``top_keys`` (-1: none), found once for every snapshot to compare ints.
        type_code = {name: c for c, name in enumerate(self.type_names)}
        key_code = {name: c for c, name in enumerate(self.key_names)}
        code_of = np.full((len(self.type_names) + 1, len(self.key_names) + 1), -1, dtype=np.int64)
        for n, (e, k) in enumerate(self.top_keys):
            if e in type_code and k in key_code:
                code_of[type_code[e], key_code[k]] = n
        self.activity = _Dated(
            activity, self.index, type=types, key=keys, research=research, top_key=code_of[types, keys],
            count=counts, known=activity["known_count"].to_numpy(dtype=float),
        )  # fmt: skip
        c_clause, c_params = ids_condition("r.account_id", ids)
        contact_activity = frame_read(
            f"SELECT r.account_id, r.contact_id, {_day_number('r.day')}, c.persona_id, c.seniority, "
            f"c.department, p.required_in_buying_team "
            f"FROM {table_sql(ContactActivityDaily)} r JOIN {table_sql(Contact)} c ON c.id = r.contact_id "
            f"LEFT JOIN {table_sql(Persona)} p ON p.id = c.persona_id "
            f"WHERE r.account_id IS NOT NULL AND r.day > %s AND r.day <= %s AND {c_clause}",
            [low, high, *c_params],
            {"account_id": "int", "contact_id": "int", "day": "int", "persona": "float", "seniority": "str",
             "department": "str", "required": "bool"},
        )  # fmt: skip
        seniority = contact_activity["seniority"].astype(object).to_numpy(dtype=object)
        self.contact_activity = _Dated(
            contact_activity, self.index,
            contact=contact_activity["contact_id"].to_numpy(dtype=np.int64),
            persona=_codes(contact_activity["persona"])[0],
            senior=np.isin(seniority, list(SENIOR)),
            department=_codes(contact_activity["department"])[0],
            required=contact_activity["required"].astype(object).fillna(False).to_numpy(dtype=bool),
        )  # fmt: skip
        self.personas = frame_read(
            f"SELECT id, required_in_buying_team FROM {table_sql(Persona)}",
            [],
            {"id": "int", "required": "bool"},
        )
        o_clause, o_params = ids_condition("o.account_id", ids)
        # All opportunities up to ``high`` (their history matters however old); the close only counts
        # for a snapshot once it is on or before the snapshot date.
        opps = frame_read(
            f"SELECT o.account_id, {_day_number('o.created_date')}, {_day_number('o.close_date')}, o.stage "
            f"FROM {table_sql(Opportunity)} o WHERE o.account_id IS NOT NULL AND o.created_date IS NOT NULL "
            f"AND o.created_date <= %s AND {o_clause}",
            [high, *o_params],
            {
                "account_id": "int",
                "created": "int",
                "closed": "float",
                "stage": "str",
            },  # closed: NULL if open
        )
        opps["created"] = opps["created"].to_numpy(dtype=np.int64)
        closed = pd.to_numeric(opps["closed"]).to_numpy(dtype=float)
        never = np.full(len(closed), np.iinfo(np.int64).max, dtype=np.int64)  # still open: never closed
        opps["closed"] = np.where(np.isnan(closed), never, np.nan_to_num(closed).astype(np.int64))
        self.opportunities = opps

    @cached_property
    def static(self) -> dict[str, np.ndarray]:
        """The columns that do not change with the snapshot date, computed once."""
        return _static(self)


def _tops(tops: pd.DataFrame) -> list[tuple[str, str]]:
    """The ``TOP_KEYS`` (type, key) pairs of the most counted, from per-pair sums (``type, key, count``)."""
    tops = tops.sort_values(["count", "type", "key"], ascending=[False, True, True], kind="stable")
    return list(zip(tops["type"][:TOP_KEYS], tops["key"][:TOP_KEYS], strict=True))


def top_keys_of(*, low: datetime.date, high: datetime.date, account_ids=None) -> list[tuple[str, str]]:
    """The top keys a ``Source`` of the days ``(low, high]`` and these accounts would choose, summed by the
    database: what every chunk of the accounts is given, so that all have the same per-key columns."""
    clause, params = ids_condition("r.account_id", ids_normal(account_ids))
    sums = frame_read(
        f"SELECT r.event_type, r.key, SUM(r.count) FROM {table_sql(AccountActivityDaily)} r "
        f"WHERE r.day > %s AND r.day <= %s AND r.key IS NOT NULL AND {clause} GROUP BY r.event_type, r.key",
        [low, high, *params],
        {"type": "str", "key": "str", "count": "float"},
    )
    if not len(sums):
        return []
    types = sums["type"].astype(str).to_numpy(dtype=object)
    keys = sums["key"].astype(str).to_numpy(dtype=object)
    research = np.array([bool(RESEARCH_KEY.search(k)) for k in keys], dtype=bool)
    chosen = (types == str(EventType.INTENT)) | research
    return _tops(pd.DataFrame({"type": types[chosen], "key": keys[chosen], "count": sums["count"][chosen]}))


def categories_of(account_ids=None) -> dict[str, list[str]]:
    """The industries, countries and technologies of these accounts (all of them: the one-hot columns)."""
    clause, params = ids_condition("a.id", ids_normal(account_ids))
    out = {}
    for column in ("industry", "country"):
        values = frame_read(
            f"SELECT DISTINCT a.{column} FROM {table_sql(Account)} a WHERE {clause}", params, {column: "str"}
        )[column]
        out[column] = sorted(set(values.astype(object).fillna("").tolist()))
    through = Account.technologies.through
    t_clause, t_params = ids_condition("x.account_id", ids_normal(account_ids))
    names = frame_read(
        f"SELECT DISTINCT t.name FROM {table_sql(through)} x "
        f"JOIN accounts_technology t ON t.id = x.technology_id WHERE {t_clause}",
        t_params,
        {"technology": "str"},
    )["technology"]
    out["technology"] = sorted(set(names.astype(object).tolist()))
    return out


# --- features ------------------------------------------------------------------------------------------
def _sum_by(n: int, pos: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """Per account position (``n`` of them): the sum of ``values`` (or the number of rows)."""
    return np.bincount(pos, weights=values, minlength=n).astype(float)


def _nunique_by(n: int, pos: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per account position: how many distinct ``values`` (integer codes; -1 is missing, not counted)."""
    ok = values >= 0
    pos, values = pos[ok], values[ok]
    if not len(pos):
        return np.zeros(n)
    width = int(values.max()) + 1
    # Distinct (account, value) pairs as one int each, counted per account.
    pairs = pd.unique(pos * width + values)
    return np.bincount(pairs // width, minlength=n).astype(float)


def _last_by(n: int, pos: np.ndarray, days: np.ndarray, t: int) -> np.ndarray:
    out = np.full(n, -np.inf)
    np.maximum.at(out, pos, days.astype(float))
    return np.where(np.isfinite(out), t - out, NONE_DAYS)


def _first_by(n: int, pos: np.ndarray, days: np.ndarray, t: int) -> np.ndarray:
    out = np.full(n, np.inf)
    np.minimum.at(out, pos, days.astype(float))
    return np.where(np.isfinite(out), t - out, NONE_DAYS)


def _static(source: Source) -> dict[str, np.ndarray]:
    """The columns that do not depend on the snapshot date (firmographics, technographics but the age)."""
    accounts, index = source.accounts, source.index
    cols: dict[str, np.ndarray] = {}
    employees = pd.to_numeric(accounts["employee_count"], errors="coerce").to_numpy(dtype=float)
    revenue = pd.to_numeric(accounts["annual_revenue"].astype(object), errors="coerce").to_numpy(dtype=float)
    cols["log_employees"] = np.log1p(employees)
    cols["log_revenue"] = np.log1p(revenue)
    given = source.categories or {}
    for column in ("industry", "country"):
        values = accounts[column].astype(object).fillna("").to_numpy(dtype=object)
        for value in given.get(column) or sorted(set(values.tolist())):
            cols[f"{column}__{slug(value)}"] = (values == value).astype(float)
    techs = source.technologies
    tech_pos = index.get_indexer(techs["account_id"].to_numpy())
    known = tech_pos >= 0
    cols["technologies"] = _sum_by(len(index), tech_pos[known])
    names = techs["technology"].astype(object).to_numpy(dtype=object)
    for name in given.get("technology") or sorted(set(names.tolist())):
        column = np.zeros(len(index))
        column[tech_pos[known & (names == name)]] = 1.0
        cols[f"tech__{slug(name)}"] = column
    return cols


def _features(source: Source, as_of: datetime.date) -> pd.DataFrame:
    t = _ordinal(as_of)
    index, n = source.index, len(source.index)
    static = source.static
    cols = {name: static[name] for name in ("log_employees", "log_revenue")}
    founded = pd.to_numeric(source.accounts["founded_year"], errors="coerce").to_numpy(dtype=float)
    cols["company_age"] = as_of.year - founded
    cols.update((k, v) for k, v in static.items() if k not in cols)

    # engagement and intent: windows, trends, surges, recency — every window a slice of the day-sorted rows
    act = source.activity
    window = act.between(t, 0, LOOKBACK)
    day, pos = act.day[window], act.pos[window]
    count, known = act.columns["count"][window], act.columns["known"][window]
    types, keys = act.columns["type"][window], act.columns["key"][window]
    research = act.columns["research"][window]
    start = window.start

    def part(younger: int, older: int) -> slice:  # a slice of the window's arrays
        s = act.between(t, younger, older)
        return slice(s.start - start, s.stop - start)

    code = {name: c for c, name in enumerate(source.type_names)}
    of_type = {name: types == c for name, c in code.items()}
    none = np.zeros(len(day), dtype=bool)
    intent = of_type.get(str(EventType.INTENT), none)
    groups = {
        "all": None,
        "intent": intent,
        "first_party": ~intent,
        "research": research,
        "high_intent": np.logical_or.reduce([none] + [of_type.get(x, none) for x in HIGH_INTENT_TYPES]),
    }
    for value in EventType.values:
        if value != EventType.INTENT:
            groups[value] = of_type.get(str(value), none)

    def total(mask, s: slice) -> np.ndarray:
        if mask is None:
            return _sum_by(n, pos[s], count[s])
        m = mask[s]
        return _sum_by(n, pos[s][m], count[s][m])

    for name, mask in groups.items():
        for w in WINDOWS:
            cols[f"{name}_{w}d"] = total(mask, part(0, w))
        if name in ("all", "intent", "first_party", "research"):
            previous = total(mask, part(30, 60))
            cols[f"{name}_trend_30d"] = (cols[f"{name}_30d"] - previous) / (previous + 1.0)
            cols[f"{name}_surge_7d"] = (cols[f"{name}_7d"] / 7.0) / (cols[f"{name}_90d"] / 90.0 + 0.1)
            every = slice(None) if mask is None else mask
            cols[f"{name}_days_since"] = _last_by(n, pos[every], day[every], t)
            # When the current burst started, and what happened before it (a past cycle, cooling).
            inside = part(0, 90)
            m = slice(None) if mask is None else mask[inside]
            cols[f"{name}_first_in_90d"] = _first_by(n, pos[inside][m], day[inside][m], t)
            cols[f"{name}_90_180d"] = total(mask, part(90, LOOKBACK))
            for week in range(4):
                cols[f"{name}_week_{week}"] = total(mask, part(7 * week, 7 * (week + 1)))
    last30 = part(0, 30)
    top_key = act.columns["top_key"][window][last30]
    for k, (e, key) in enumerate(source.top_keys):
        chosen = top_key == k
        cols[f"key__{slug(e)}__{slug(key)}_30d"] = _sum_by(n, pos[last30][chosen], count[last30][chosen])
    for w in (30, 90):
        s = part(0, w)
        cols[f"known_{w}d"] = _sum_by(n, pos[s], known[s])
        cols[f"active_days_{w}d"] = _nunique_by(n, pos[s], day[s] - day[s].min() if len(day[s]) else day[s])
        m = intent[s]
        cols[f"intent_topics_{w}d"] = _nunique_by(n, pos[s][m], keys[s][m])
        m = research[s]
        cols[f"research_pages_{w}d"] = _nunique_by(n, pos[s][m], keys[s][m])

    # the engaged buying team
    ca = source.contact_activity
    n_personas = max(1, len(source.personas))
    n_required = int(source.personas["required"].astype(bool).sum()) if len(source.personas) else 0
    for w in (30, 90):
        s = ca.between(t, 0, w)
        c_pos = ca.pos[s]
        contact, persona = ca.columns["contact"][s], ca.columns["persona"][s]
        senior, required = ca.columns["senior"][s], ca.columns["required"][s]
        cols[f"engaged_contacts_{w}d"] = _nunique_by(n, c_pos, contact)
        cols[f"engaged_senior_{w}d"] = _nunique_by(n, c_pos[senior], contact[senior])
        cols[f"engaged_departments_{w}d"] = _nunique_by(n, c_pos, ca.columns["department"][s])
        cols[f"persona_coverage_{w}d"] = _nunique_by(n, c_pos, persona) / n_personas
        required_personas = _nunique_by(n, c_pos[required], persona[required])
        cols[f"required_persona_coverage_{w}d"] = (
            required_personas / n_required if n_required else np.zeros(n)
        )
    cols["engaged_contacts_trend_30d"] = (
        cols["engaged_contacts_30d"] - (cols["engaged_contacts_90d"] - cols["engaged_contacts_30d"]) / 2.0
    )

    # past opportunities (known at as_of: created on or before it; outcomes closed on or before it)
    opps = source.opportunities
    opps = opps[opps["created"] <= t]
    closed_by_then = opps["closed"].to_numpy() <= t
    stage = opps["stage"].to_numpy(dtype=object)
    won = closed_by_then & (stage == OpportunityStage.WON)
    lost = closed_by_then & (stage == OpportunityStage.LOST)
    o_pos = index.get_indexer(opps["account_id"].to_numpy())
    mine = o_pos >= 0
    created, closed = opps["created"].to_numpy()[mine], opps["closed"].to_numpy()[mine]
    won, lost, closed_by_then, o_pos = won[mine], lost[mine], closed_by_then[mine], o_pos[mine]
    cols["opportunities"] = _sum_by(n, o_pos)
    cols["opportunities_won"] = _sum_by(n, o_pos[won])
    cols["opportunities_lost"] = _sum_by(n, o_pos[lost])
    cols["customer"] = (cols["opportunities_won"] > 0).astype(float)
    cols["days_since_opportunity"] = _last_by(n, o_pos, created, t)
    cols["days_since_won"] = _last_by(n, o_pos[won], closed[won], t)
    cols["days_since_closed"] = _last_by(n, o_pos[closed_by_then], closed[closed_by_then], t)

    frame = pd.DataFrame(cols, index=index).astype("float64")
    # An extreme imported value can make a ratio or a logarithm infinite: that is "unknown", not a number
    # any model or explanation can use.
    if np.isinf(frame.to_numpy()).any():
        frame = frame.replace([np.inf, -np.inf], np.nan)
    frame.attrs["top_keys"] = [list(pair) for pair in source.top_keys]
    newest = [int(day[-1])] if len(day) else []
    c_window = ca.between(t, 0, LOOKBACK)
    newest += [int(ca.day[c_window.stop - 1])] if c_window.stop > c_window.start else []
    newest += [int(created.max())] if len(created) else []
    frame.attrs["data_through"] = (
        datetime.date.fromordinal(max(newest) + datetime.date(1970, 1, 1).toordinal()) if newest else None
    )
    return frame


def open_at(source: Source, as_of: datetime.date) -> set[int]:
    """Accounts with an opportunity open at ``as_of``: created by then, not won or lost by then."""
    t = _ordinal(as_of)
    opps = source.opportunities
    closed = opps["stage"].isin(CLOSED_STAGES).to_numpy() & (opps["closed"].to_numpy() <= t)
    return set(opps[(opps["created"].to_numpy() <= t) & ~closed]["account_id"].astype(int).tolist())


def account_features(*, as_of: datetime.date, account_ids=None, top_keys=None) -> pd.DataFrame:
    """Features of accounts (all, or these) as of the end of ``as_of``, from data dated on or before it.

    ``top_keys`` (``[[event_type, key], …]``, as a trained model recorded them) fixes the per-key columns;
    without it they are the most frequent keys of the period read."""
    source = Source(
        low=as_of - datetime.timedelta(days=LOOKBACK), high=as_of, account_ids=account_ids, top_keys=top_keys
    )
    return _features(source, as_of)


def labels(*, as_of: datetime.date, horizon_days: int = 90, account_ids=None) -> pd.Series:
    """1 if the account opens an opportunity created in ``(as_of, as_of + horizon]``, for every account."""
    ids = ids_normal(account_ids)
    a_clause, a_params = ids_condition("a.id", ids)
    accounts = frame_read(
        f"SELECT a.id FROM {table_sql(Account)} a WHERE {a_clause}", a_params, {"account_id": "int"}
    )
    opened = frame_read(
        f"SELECT DISTINCT o.account_id FROM {table_sql(Opportunity)} o "
        f"WHERE o.account_id IS NOT NULL AND o.created_date > %s AND o.created_date <= %s",
        [as_of, as_of + datetime.timedelta(days=horizon_days)],
        {"account_id": "int"},
    )
    index = pd.Index(accounts["account_id"].astype(np.int64).sort_values(), name="account_id")
    return pd.Series(index.isin(opened["account_id"]).astype(np.int64), index=index, name="label")


def snapshot_dates(*, start: datetime.date, end: datetime.date, every_days: int = 30) -> list[datetime.date]:
    """``end``, ``end - every``, … back to ``start``, oldest first."""
    dates, day = [], end
    while day >= start:
        dates.append(day)
        day -= datetime.timedelta(days=every_days)
    return dates[::-1]


CHUNK_ACCOUNTS = 20_000  # accounts whose period is read at once when building snapshots


def account_chunks(account_ids=None, size: int = CHUNK_ACCOUNTS) -> list:
    """These accounts (all: by id range) in chunks of about ``size``: id ``range``s, or lists of ids."""
    ids = ids_normal(account_ids)
    if ids is not None and not isinstance(ids, range):
        return [ids[n : n + size] for n in range(0, len(ids), size)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {table_sql(Account)}")
        low, high = cursor.fetchone()
    if low is None:
        return []
    if ids is not None:
        low, high = max(low, ids.start), min(high, ids.stop - 1)
    return [range(lo, min(lo + size, high + 1)) for lo in range(low, high + 1, size)]


def _opened(ids, low: datetime.date, high: datetime.date) -> pd.DataFrame:
    """(account, day number) of the opportunities of these accounts created in ``(low, high]``."""
    clause, params = ids_condition("o.account_id", ids)
    return frame_read(
        f"SELECT o.account_id, {_day_number('o.created_date')} FROM {table_sql(Opportunity)} o "
        f"WHERE o.account_id IS NOT NULL AND o.created_date > %s AND o.created_date <= %s AND {clause}",
        [low, high, *params],
        {"account_id": "int", "created": "int"},
    )


def snapshot_chunks(
    *,
    dates: list[datetime.date],
    horizon_days: int = 90,
    account_ids=None,
    with_labels: bool = True,
    top_keys=None,
    chunk_accounts: int = CHUNK_ACCOUNTS,
):
    """The rows of ``snapshots``, a chunk of accounts × one date at a time (chunk by chunk, each chunk's
    dates oldest first): the whole matrix is never in memory, only one chunk's period. Every chunk has the
    same columns, in the same order (the top keys and categories of all these accounts)."""
    dates = sorted(dates)
    if not dates:
        return
    low, high = dates[0] - datetime.timedelta(days=LOOKBACK), dates[-1]
    if top_keys is None:
        top_keys = top_keys_of(low=low, high=high, account_ids=account_ids)
    categories = categories_of(account_ids)

    def read(ids) -> tuple:
        source = Source(low=low, high=high, account_ids=ids, top_keys=top_keys, categories=categories)
        opened = None
        if with_labels and len(source.index):
            opened = _opened(ids, dates[0], dates[-1] + datetime.timedelta(days=horizon_days))
        return source, opened

    # The next chunk's period is read while this one's snapshots are made (``read_ahead``, on PostgreSQL).
    for source, opened in read_ahead(account_chunks(account_ids, chunk_accounts), read):
        if not len(source.index):
            continue
        for as_of in dates:
            features = _features(source, as_of)
            through = features.attrs["data_through"]
            assert through is None or through <= as_of, f"features for {as_of} read data from {through}"
            features = features[~features.index.isin(list(open_at(source, as_of)))]
            frame = features.reset_index()
            frame.insert(0, "as_of", as_of)
            if with_labels:
                t = _ordinal(as_of)
                created = opened["created"].to_numpy()
                window = (created > t) & (created <= t + horizon_days)
                frame["label"] = frame["account_id"].isin(opened["account_id"][window]).astype(np.int64)
            frame.attrs["top_keys"] = [list(pair) for pair in top_keys]
            yield frame


def snapshots(
    *,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    every_days: int = 30,
    dates: list[datetime.date] | None = None,
    horizon_days: int = 90,
    account_ids=None,
    with_labels: bool = True,
    top_keys=None,
) -> pd.DataFrame:
    """Rows (``as_of``, ``account_id``, features…, ``label``) for each snapshot date, leaving out accounts
    with an opportunity open at the snapshot (they are not "about to open" one). All in one frame, date
    by date: for a bounded matrix of a large population, ``snapshot_chunks``."""
    if dates is None:
        dates = snapshot_dates(start=start, end=end, every_days=every_days)
    dates = sorted(dates)
    if not dates:
        return pd.DataFrame(columns=["as_of", "account_id", "label"])
    if top_keys is None:
        low = dates[0] - datetime.timedelta(days=LOOKBACK)
        top_keys = top_keys_of(low=low, high=dates[-1], account_ids=account_ids)
    frames = list(
        snapshot_chunks(
            dates=dates, horizon_days=horizon_days, account_ids=account_ids, with_labels=with_labels,
            top_keys=top_keys,
        )
    )  # fmt: skip
    if not frames:
        return pd.DataFrame(columns=["as_of", "account_id", "label"])
    out = pd.concat(frames, ignore_index=True)
    if len(frames) > len(dates):  # several chunks: date by date, accounts in order within each
        out = out.sort_values(["as_of", "account_id"], kind="stable", ignore_index=True)
    out.attrs["top_keys"] = [list(pair) for pair in top_keys]
    return out
