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

import numpy as np
import pandas as pd
from django.db import connection

from accounts.choices import CLOSED_STAGES, EventType, OpportunityStage
from accounts.models import Account, AccountActivityDaily, Contact, ContactActivityDaily, Opportunity, Persona

WINDOWS = (7, 30, 90)
LOOKBACK = 180  # days of activity read per snapshot (windows, trends, recency)
NONE_DAYS = 9999  # "days since" when there was none
# Pages and actions of someone evaluating a purchase rather than reading.
RESEARCH_KEY = re.compile(r"pricing|compare|/vs|case-stud|/customers|roi|/demo|trial|/integrations|/product")
HIGH_INTENT_TYPES = ("demo_request", "free_trial", "meeting")
SENIOR = ("c_level", "vp", "director")
TOP_KEYS = 40


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _ordinals(values) -> np.ndarray:
    """Dates (``date`` objects or ISO text, as the database gives them) → day ordinals."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    return pd.to_datetime(pd.Series(values, dtype=object)).to_numpy(dtype="datetime64[D]").astype(np.int64)


def _ordinal(day: datetime.date) -> int:
    return int(np.datetime64(day, "D").astype(np.int64))


def _in(column: str, ids) -> tuple[str, list]:
    """A SQL condition for ``column`` in ``ids``: all (None), an id range (``range``), or a list."""
    if ids is None:
        return "1 = 1", []
    if isinstance(ids, range) and ids.step == 1:
        return f"{column} >= %s AND {column} < %s", [ids.start, ids.stop]
    ids = [int(i) for i in ids]
    if not ids:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", ids


def _ids(account_ids):
    """None (every account), an id ``range`` as it is, or the distinct ids sorted."""
    if account_ids is None or (isinstance(account_ids, range) and account_ids.step == 1):
        return account_ids
    return sorted({int(i) for i in account_ids})


def _fetch(sql: str, params: list, columns: list[str]) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=columns)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "blank"


# --- reading -------------------------------------------------------------------------------------------
class Source:
    """What the features need, read once for the days ``(low, high]`` and reused for every snapshot."""

    def __init__(self, *, low: datetime.date, high: datetime.date, account_ids=None, top_keys=None):
        self.low, self.high = low, high
        ids = _ids(account_ids)
        a_clause, a_params = _in("a.id", ids)
        self.accounts = _fetch(
            f"SELECT a.id, a.industry, a.employee_count, a.annual_revenue, a.founded_year, a.country "
            f"FROM {_t(Account)} a WHERE {a_clause} ORDER BY a.id",
            a_params,
            ["account_id", "industry", "employee_count", "annual_revenue", "founded_year", "country"],
        )
        through = Account.technologies.through
        t_clause, t_params = _in("x.account_id", ids)
        self.technologies = _fetch(
            f"SELECT x.account_id, t.name FROM {_t(through)} x "
            f"JOIN accounts_technology t ON t.id = x.technology_id WHERE {t_clause}",
            t_params,
            ["account_id", "technology"],
        )
        r_clause, r_params = _in("r.account_id", ids)
        activity = _fetch(
            f"SELECT r.account_id, r.day, r.event_type, r.key, r.count, r.known_count "
            f"FROM {_t(AccountActivityDaily)} r WHERE r.day > %s AND r.day <= %s AND {r_clause}",
            [low, high, *r_params],
            ["account_id", "day", "event_type", "key", "count", "known_count"],
        )
        activity["day"] = _ordinals(activity["day"].tolist())
        keys = activity["key"].astype(object).fillna("").to_numpy(dtype=object)
        research_keys = {k for k in set(keys.tolist()) if RESEARCH_KEY.search(k)}
        activity["research"] = pd.Series(keys).isin(research_keys).to_numpy() & (
            activity["event_type"].to_numpy(dtype=object) != EventType.INTENT
        )
        self.activity = activity
        # The most frequent intent topics and research pages, each a feature: which ones signal a
        # purchase is learnt, not configured.
        tops = activity[(activity["event_type"] == EventType.INTENT) | activity["research"]]
        tops = tops.groupby(["event_type", "key"])["count"].sum().sort_values(ascending=False, kind="stable")
        self.top_keys = (
            [(str(e), str(k)) for e, k in tops.index[:TOP_KEYS]]
            if top_keys is None
            else [(str(e), str(k)) for e, k in top_keys]
        )
        # Each row's position in ``top_keys`` (-1: none), found once for every snapshot to compare ints.
        activity["top_key"] = (
            pd.MultiIndex.from_tuples(self.top_keys, names=["event_type", "key"]).get_indexer(
                pd.MultiIndex.from_arrays([activity["event_type"].astype(object), pd.Series(keys)])
            )
            if self.top_keys and len(activity)
            else np.full(len(activity), -1)
        )
        c_clause, c_params = _in("r.account_id", ids)
        contact_activity = _fetch(
            f"SELECT r.account_id, r.contact_id, r.day, c.persona_id, c.seniority, c.department, "
            f"p.required_in_buying_team, r.count "
            f"FROM {_t(ContactActivityDaily)} r JOIN {_t(Contact)} c ON c.id = r.contact_id "
            f"LEFT JOIN {_t(Persona)} p ON p.id = c.persona_id "
            f"WHERE r.account_id IS NOT NULL AND r.day > %s AND r.day <= %s AND {c_clause}",
            [low, high, *c_params],
            ["account_id", "contact_id", "day", "persona", "seniority", "department", "required", "count"],
        )
        contact_activity["day"] = _ordinals(contact_activity["day"].tolist())
        self.contact_activity = contact_activity
        self.personas = _fetch(
            f"SELECT id, required_in_buying_team FROM {_t(Persona)}", [], ["id", "required"]
        )
        o_clause, o_params = _in("o.account_id", ids)
        # All opportunities up to ``high`` (their history matters however old); the close only counts
        # for a snapshot once it is on or before the snapshot date.
        opps = _fetch(
            f"SELECT o.account_id, o.created_date, o.close_date, o.stage FROM {_t(Opportunity)} o "
            f"WHERE o.account_id IS NOT NULL AND o.created_date IS NOT NULL AND o.created_date <= %s "
            f"AND {o_clause}",
            [high, *o_params],
            ["account_id", "created", "closed", "stage"],
        )
        opps["created"] = _ordinals(opps["created"].tolist())
        closed = opps["closed"].astype(object)
        opps["closed"] = np.where(
            closed.isna(), np.iinfo(np.int64).max, _ordinals(closed.fillna("2999-12-31").tolist())
        )
        self.opportunities = opps


# --- features ------------------------------------------------------------------------------------------
def _sum_by(index: pd.Index, account_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    pos = index.get_indexer(account_ids)
    ok = pos >= 0
    return np.bincount(pos[ok], weights=np.asarray(values, dtype=float)[ok], minlength=len(index))


def _nunique_by(index: pd.Index, frame: pd.DataFrame, column: str) -> np.ndarray:
    if frame.empty:
        return np.zeros(len(index))
    # Distinct (account, value) pairs as one int each, counted per account: no groupby per call.
    pos = index.get_indexer(frame["account_id"].to_numpy())
    ok = (pos >= 0) & frame[column].notna().to_numpy()
    codes, uniques = pd.factorize(frame[column].to_numpy()[ok])
    width = max(1, len(uniques))
    pairs = pd.unique(pos[ok].astype(np.int64) * width + codes)
    return np.bincount(pairs // width, minlength=len(index)).astype(float)


def _last_by(index: pd.Index, account_ids: np.ndarray, days: np.ndarray, t: int) -> np.ndarray:
    out = np.full(len(index), -np.inf)
    pos = index.get_indexer(account_ids)
    ok = pos >= 0
    np.maximum.at(out, pos[ok], days[ok].astype(float))
    return np.where(np.isfinite(out), t - out, NONE_DAYS)


def _first_by(index: pd.Index, account_ids: np.ndarray, days: np.ndarray, t: int) -> np.ndarray:
    out = np.full(len(index), np.inf)
    pos = index.get_indexer(account_ids)
    ok = pos >= 0
    np.minimum.at(out, pos[ok], days[ok].astype(float))
    return np.where(np.isfinite(out), t - out, NONE_DAYS)


def _features(source: Source, as_of: datetime.date, account_ids=None) -> pd.DataFrame:
    t = _ordinal(as_of)
    accounts = source.accounts
    if account_ids is not None:
        accounts = accounts[accounts["account_id"].isin([int(i) for i in account_ids])]
    index = pd.Index(accounts["account_id"].to_numpy(dtype=np.int64), name="account_id")
    cols: dict[str, np.ndarray] = {}

    # firmographics and technographics
    employees = pd.to_numeric(accounts["employee_count"], errors="coerce").to_numpy(dtype=float)
    revenue = pd.to_numeric(accounts["annual_revenue"].astype(object), errors="coerce").to_numpy(dtype=float)
    founded = pd.to_numeric(accounts["founded_year"], errors="coerce").to_numpy(dtype=float)
    cols["log_employees"] = np.log1p(employees)
    cols["log_revenue"] = np.log1p(revenue)
    cols["company_age"] = as_of.year - founded
    for column in ("industry", "country"):
        values = accounts[column].astype(object).fillna("").to_numpy(dtype=object)
        for value in sorted(set(source.accounts[column].astype(object).fillna("").tolist())):
            cols[f"{column}__{_slug(value)}"] = (values == value).astype(float)
    techs = source.technologies
    techs = techs[techs["account_id"].isin(index)]
    cols["technologies"] = _sum_by(index, techs["account_id"].to_numpy(), np.ones(len(techs)))
    tech_ids = techs["account_id"].to_numpy()
    tech_codes, tech_names = pd.factorize(techs["technology"].to_numpy(dtype=object))
    tech_code = {name: n for n, name in enumerate(tech_names)}
    for name in sorted(set(source.technologies["technology"].tolist())):
        chosen = tech_ids[tech_codes == tech_code.get(name, -2)]
        cols[f"tech__{_slug(name)}"] = index.isin(chosen).astype(float)

    # engagement and intent: windows, trends, surges, recency
    act = source.activity
    act = act[(act["day"] <= t) & (act["day"] > t - LOOKBACK)]
    age = t - act["day"].to_numpy()
    ids = act["account_id"].to_numpy()
    count = act["count"].to_numpy(dtype=float)
    known = act["known_count"].to_numpy(dtype=float)
    # Each type's rows by one int comparison (types coded once), not a string comparison per group.
    type_codes, type_names = pd.factorize(act["event_type"].to_numpy(dtype=object))
    of_type = {str(name): type_codes == n for n, name in enumerate(type_names)}
    none = np.zeros(len(act), dtype=bool)
    groups = {
        "all": np.ones(len(act), dtype=bool),
        "intent": of_type.get(str(EventType.INTENT), none),
        "first_party": ~of_type.get(str(EventType.INTENT), none),
        "research": act["research"].to_numpy(dtype=bool),
        "high_intent": np.logical_or.reduce([none] + [of_type.get(t, none) for t in HIGH_INTENT_TYPES]),
    }
    for value in EventType.values:
        if value != EventType.INTENT:
            groups[value] = of_type.get(str(value), none)
    for name, mask in groups.items():
        for w in WINDOWS:
            cols[f"{name}_{w}d"] = _sum_by(index, ids[mask & (age < w)], count[mask & (age < w)])
        if name in ("all", "intent", "first_party", "research"):
            previous = _sum_by(
                index, ids[mask & (age >= 30) & (age < 60)], count[mask & (age >= 30) & (age < 60)]
            )
            cols[f"{name}_trend_30d"] = (cols[f"{name}_30d"] - previous) / (previous + 1.0)
            cols[f"{name}_surge_7d"] = (cols[f"{name}_7d"] / 7.0) / (cols[f"{name}_90d"] / 90.0 + 0.1)
            cols[f"{name}_days_since"] = _last_by(index, ids[mask], act["day"].to_numpy()[mask], t)
            # When the current burst started, and what happened before it (a past cycle, cooling).
            inside = mask & (age < 90)
            cols[f"{name}_first_in_90d"] = _first_by(index, ids[inside], act["day"].to_numpy()[inside], t)
            earlier = mask & (age >= 90)
            cols[f"{name}_90_180d"] = _sum_by(index, ids[earlier], count[earlier])
            for week in range(4):
                this_week = mask & (age >= 7 * week) & (age < 7 * (week + 1))
                cols[f"{name}_week_{week}"] = _sum_by(index, ids[this_week], count[this_week])
    top_key = act["top_key"].to_numpy()
    for n, (e, k) in enumerate(source.top_keys):
        chosen = (top_key == n) & (age < 30)
        cols[f"key__{_slug(e)}__{_slug(k)}_30d"] = _sum_by(index, ids[chosen], count[chosen])
    for w in (30, 90):
        cols[f"known_{w}d"] = _sum_by(index, ids[age < w], known[age < w])
        recent = act[age < w]
        cols[f"active_days_{w}d"] = _nunique_by(index, recent, "day")
        cols[f"intent_topics_{w}d"] = _nunique_by(
            index, recent[recent["event_type"] == EventType.INTENT], "key"
        )
        cols[f"research_pages_{w}d"] = _nunique_by(index, recent[recent["research"]], "key")

    # the engaged buying team
    ca = source.contact_activity
    ca = ca[(ca["day"] <= t) & (ca["day"] > t - LOOKBACK)]
    n_personas = max(1, len(source.personas))
    n_required = int(source.personas["required"].astype(bool).sum()) if len(source.personas) else 0
    for w in (30, 90):
        recent = ca[t - ca["day"] < w]
        cols[f"engaged_contacts_{w}d"] = _nunique_by(index, recent, "contact_id")
        cols[f"engaged_senior_{w}d"] = _nunique_by(
            index, recent[recent["seniority"].isin(SENIOR)], "contact_id"
        )
        cols[f"engaged_departments_{w}d"] = _nunique_by(index, recent, "department")
        personas = _nunique_by(index, recent, "persona")
        cols[f"persona_coverage_{w}d"] = personas / n_personas
        required = _nunique_by(index, recent[recent["required"].fillna(False).astype(bool)], "persona")
        cols[f"required_persona_coverage_{w}d"] = (
            required / n_required if n_required else np.zeros(len(index))
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
    o_ids = opps["account_id"].to_numpy()
    cols["opportunities"] = _sum_by(index, o_ids, np.ones(len(opps)))
    cols["opportunities_won"] = _sum_by(index, o_ids[won], np.ones(int(won.sum())))
    cols["opportunities_lost"] = _sum_by(index, o_ids[lost], np.ones(int(lost.sum())))
    cols["customer"] = (cols["opportunities_won"] > 0).astype(float)
    cols["days_since_opportunity"] = _last_by(index, o_ids, opps["created"].to_numpy(), t)
    cols["days_since_won"] = _last_by(index, o_ids[won], opps["closed"].to_numpy()[won], t)
    cols["days_since_closed"] = _last_by(
        index, o_ids[closed_by_then], opps["closed"].to_numpy()[closed_by_then], t
    )

    frame = pd.DataFrame(cols, index=index).astype("float64")
    frame.attrs["top_keys"] = [list(pair) for pair in source.top_keys]
    newest = [act["day"].max() if len(act) else None, ca["day"].max() if len(ca) else None]
    newest += [opps["created"].max() if len(opps) else None]
    newest = [int(d) for d in newest if d is not None and not pd.isna(d)]
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
    ids = _ids(account_ids)
    a_clause, a_params = _in("a.id", ids)
    accounts = _fetch(f"SELECT a.id FROM {_t(Account)} a WHERE {a_clause}", a_params, ["account_id"])
    opened = _fetch(
        f"SELECT DISTINCT o.account_id FROM {_t(Opportunity)} o "
        f"WHERE o.account_id IS NOT NULL AND o.created_date > %s AND o.created_date <= %s",
        [as_of, as_of + datetime.timedelta(days=horizon_days)],
        ["account_id"],
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
    with an opportunity open at the snapshot (they are not "about to open" one)."""
    if dates is None:
        dates = snapshot_dates(start=start, end=end, every_days=every_days)
    dates = sorted(dates)
    if not dates:
        return pd.DataFrame(columns=["as_of", "account_id", "label"])
    source = Source(
        low=dates[0] - datetime.timedelta(days=LOOKBACK),
        high=dates[-1],
        account_ids=account_ids,
        top_keys=top_keys,
    )
    frames = []
    for as_of in dates:
        features = _features(source, as_of)
        through = features.attrs["data_through"]
        assert through is None or through <= as_of, f"features for {as_of} read data from {through}"
        features = features[~features.index.isin(list(open_at(source, as_of)))]
        frame = features.reset_index()
        frame.insert(0, "as_of", as_of)
        if with_labels:
            y = labels(as_of=as_of, horizon_days=horizon_days, account_ids=account_ids)
            frame["label"] = y.reindex(frame["account_id"]).fillna(0).astype(np.int64).to_numpy()
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["top_keys"] = [list(pair) for pair in source.top_keys]
    return out
