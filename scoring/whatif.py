"""What-if: replay a draft over the last N days against the published version.

Both versions score every contact as of the end of each week of the window (point-in-time on activity),
each in one pass over the weeks (``scoring.engine.timeline``: the same numbers as the engine run once per
week, which ``replay="weekly"`` still does as the reference). A contact "qualifies" in the first week it
crosses into the MQL definition (or takes a fast-track action), as the live system would have moved it.
What then actually happened to those contacts — SQL, an opportunity at their account, a win — comes from
the recorded history.

"Newly qualify" lists the contacts one version qualifies in the window that the other neither qualifies in
the window nor had as an MQL already at its start (a stricter draft qualifies such a contact *later*, not
newly: it counts in the draft's totals, and in ``*_earlier_count``, not in the list). Each listed row says
why, from the one-record engine at the week it qualified: the path (the MQL definition with its fit and
engagement then, or a fast-track action) and why the other version did not (excluded, missing data, fit
below its minimum, or its engagement peak in the window below its minimum).

Limits, said plainly: contact and account *fields* are today's values (fields keep no history), and
SQL is a people's decision, so "SQLs produced" counts qualified contacts that sales did qualify. Likewise
the replay's SALs are only the fast-track ones (a demo request or free trial taking a contact straight to
SAL): sales accepting an MQL is a person's decision no version changes, so two versions with the same
fast-track actions and exclusions show (nearly) the same SALs however far their MQLs differ.
"""

import datetime
import logging
from dataclasses import replace

import numpy as np
import pandas as pd
from celery import shared_task
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Campaign, Channel, Contact, ContactActivityDaily, EngagementEvent, Opportunity
from revops.background import job_send
from revops.bulk import frame_read, ids_condition, is_postgres, table_sql
from revops.services import JOB_ABANDONED_AFTER
from scoring.choices import RulesetStatus
from scoring.engine.rules import (
    EPOCH,
    Population,
    RulesetSpec,
    day_ordinal,
    empty_activity,
    evaluate_contacts,
    score_contact,
)
from scoring.engine.timeline import Timeline, TimelineScores, evaluate_timeline
from scoring.models import LifecycleTransition, Ruleset, WhatIfRun
from scoring.population import as_date, campaign_activity, contact_activity, contacts_frame, spec_for
from scoring.store import today

log = logging.getLogger(__name__)
MAX_DAYS = 365
LIST_LIMIT = 100
CHUNK = 20_000  # ids per query of the outcomes
SIZE_BANDS = [(0, "1–49"), (50, "50–199"), (200, "200–999"), (1000, "1,000–4,999"), (5000, "5,000+")]


def _size_band(employees: float) -> str:
    if employees is None or np.isnan(employees):
        return "size unknown"
    label = SIZE_BANDS[0][1]
    for low, name in SIZE_BANDS:
        if employees >= low:
            label = name
    return label


def qualifications_weekly(spec, population, weeks: list[datetime.date], start: datetime.date) -> pd.DataFrame:
    """Per contact: the first week (date) it crossed into MQL or was fast-tracked, or NaT, and the first
    week a fast-track action took it to SAL (``sal_week``; an MQL's too, as the live engine moves it) —
    the engine run once per week: the reference ``qualifications`` must equal (a property test)."""
    n = len(population.contacts)
    first = np.full(n, None, dtype=object)
    kind = np.full(n, "", dtype=object)
    sal_first = np.full(n, None, dtype=object)
    before = evaluate_contacts(spec, population, as_of=start)
    was = before["mql"].to_numpy()
    previous_end = day_ordinal(start)
    for week_end in weeks:
        scores = evaluate_contacts(spec, population, as_of=week_end)
        now = scores["mql"].to_numpy()
        ft_day = scores["fast_track_day"].to_numpy()
        fast = (
            (scores["fast_track"].to_numpy() != "")
            & (ft_day > previous_end)
            & (scores["excluded"].to_numpy() == "")
        )
        crossing = (now & ~was) | fast
        fresh = crossing & (first == None)  # noqa: E711  (object array: elementwise)
        first[fresh] = week_end
        kind[fresh & fast] = "sal" if spec.sal_enabled else "mql"
        kind[fresh & ~fast] = "mql"
        if spec.sal_enabled:
            sal_first[fast & (sal_first == None)] = week_end  # noqa: E711
        was = now
        previous_end = day_ordinal(week_end)
    frame = pd.DataFrame(
        {"contact_id": population.contacts["contact_id"].to_numpy(), "week": first, "kind": kind,
         "sal_week": sal_first, "fit": scores["fit"].to_numpy() if n else [],
         "engagement": scores["engagement"].to_numpy() if n else []}
    )  # fmt: skip
    return frame[frame["week"].notna()]


def qualifications(
    spec, timeline: Timeline, weeks: list[datetime.date], scores: TimelineScores | None = None
) -> pd.DataFrame:
    """What ``qualifications_weekly`` gives, from one evaluation over the timeline (the window's start,
    then every week end): the first week whose MQL state turned on, or with a fast-track action, and the
    first week with a fast-track action. ``scores``: that evaluation, if the caller has it already."""
    scores = evaluate_timeline(spec, timeline) if scores is None else scores
    mql, fast = scores.mql, scores.fast
    crossing = (mql[1:] & ~mql[:-1]) | fast[1:]  # (weeks × contacts)
    n = crossing.shape[1]
    rows = np.flatnonzero(crossing.any(axis=0))
    chosen = np.argmax(crossing[:, rows], axis=0)  # each one's first week crossing
    week_objects = np.empty(len(weeks), dtype=object)
    week_objects[:] = weeks
    # Built as qualifications_weekly builds its frame (whole columns, then the qualified rows), so that
    # the two agree to the dtypes and the index.
    first = np.full(n, None, dtype=object)
    kind = np.full(n, "", dtype=object)
    first[rows] = week_objects[chosen]
    kind[rows] = np.where(fast[1:][chosen, rows], "sal" if spec.sal_enabled else "mql", "mql")
    sal_first = np.full(n, None, dtype=object)
    fast_tracked = np.flatnonzero(fast[1:].any(axis=0)) if spec.sal_enabled else np.empty(0, dtype=np.int64)
    sal_first[fast_tracked] = week_objects[np.argmax(fast[1:][:, fast_tracked], axis=0)]
    frame = pd.DataFrame(
        {"contact_id": timeline.population.contacts["contact_id"].to_numpy(), "week": first, "kind": kind,
         "sal_week": sal_first, "fit": scores.fit if n else [],
         "engagement": scores.engagement[-1] if n else []}
    )  # fmt: skip
    return frame[frame["week"].notna()]


def _first_sql_days(ids: np.ndarray) -> dict[int, int]:
    """Per contact of ``ids``: the day (ordinal) of its first move to SQL."""
    out: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        clause, params = ids_condition("t.contact_id", ids[start : start + CHUNK].tolist())
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t.contact_id, MIN(t.at) FROM {table_sql(LifecycleTransition)} t "
                f"WHERE t.to_stage = 'sql' AND {clause} GROUP BY t.contact_id",
                params,
            )
            out.update((cid, day_ordinal(as_date(at))) for cid, at in cursor.fetchall())
    return out


def _opportunities(account_ids: list[int]) -> pd.DataFrame:
    """Opportunities with an opening date at these accounts: account, opened (ordinal), stage, channel."""
    rows = []
    for start in range(0, len(account_ids), CHUNK):
        clause, params = ids_condition("o.account_id", account_ids[start : start + CHUNK])
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT o.account_id, o.created_date, o.stage, ch.name FROM {table_sql(Opportunity)} o "
                f"LEFT JOIN {table_sql(Channel)} ch ON ch.id = o.channel_id "
                f"WHERE o.created_date IS NOT NULL AND {clause}",
                params,
            )
            rows += [(a, day_ordinal(as_date(c)), s, ch) for a, c, s, ch in cursor.fetchall()]
    return pd.DataFrame.from_records(rows, columns=["account", "created", "stage", "channel"])


def outcomes(contacts: pd.DataFrame, qualified: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """For the qualified contacts of each version: did they reach SQL, did their account open an
    opportunity / win, after? (At most a week before qualifying counts as after: the week is when the
    replay noticed.) The history is read once for the contacts of every version."""
    info = contacts.set_index("contact_id")
    ids = np.unique(np.concatenate([f["contact_id"].to_numpy(dtype=np.int64) for f in qualified.values()]))
    accounts = info["account_id"].loc[ids].to_numpy(dtype=np.float64) if len(ids) else np.empty(0)
    history = {
        "opportunities": _opportunities(sorted({int(a) for a in accounts[~np.isnan(accounts)]})),
        "sql_days": _first_sql_days(ids),
        "channels": _contact_channels(ids.tolist()),
    }
    return {name: _outcomes_of(info, frame, **history) for name, frame in qualified.items()}


def _outcomes_of(info, qualified, *, opportunities, sql_days, channels) -> pd.DataFrame:
    if qualified.empty:
        return qualified.assign(sql=False, opportunity=False, won=False, channel="", segment="")
    ids = qualified["contact_id"].to_numpy(dtype=np.int64)
    info = info.loc[ids]
    m = len(ids)
    since = qualified["week"].map(lambda w: day_ordinal(w - datetime.timedelta(days=7))).to_numpy(np.int64)
    account = info["account_id"].to_numpy(dtype=np.float64)
    opportunity, won = np.zeros(m, dtype=bool), np.zeros(m, dtype=bool)
    opp_channel = np.full(m, None, dtype=object)
    known = ~np.isnan(account)
    if len(opportunities):
        asked = pd.DataFrame({"row": np.flatnonzero(known), "account": account[known].astype(np.int64)})
        later = asked.merge(opportunities, on="account")
        later = later[later["created"].to_numpy() >= since[later["row"].to_numpy()]]
        opportunity[later["row"].to_numpy()] = True
        won[later.loc[later["stage"] == "won", "row"].to_numpy()] = True
        # The earliest one (then by stage and channel, as tuples sort) names the channel.
        firsts = later.sort_values(["row", "created", "stage", "channel"]).drop_duplicates("row")
        opp_channel[firsts["row"].to_numpy()] = firsts["channel"].to_numpy()
    first_sql = np.array([sql_days.get(int(c), -1) for c in ids], dtype=np.int64)
    progressed = info["lifecycle_stage"].isin(["sql", "opportunity", "customer"]).to_numpy()
    sql = ((first_sql >= 0) & (first_sql >= since)) | (progressed & opportunity)
    channel = [
        channels.get(int(c)) or (o if o else "No campaign") for c, o in zip(ids, opp_channel, strict=True)
    ]
    industries = [v or "Unknown industry" for v in info["account.industry"].to_numpy(dtype=object)]
    bands = info["account.employee_count"].map(_size_band).to_numpy(dtype=object)
    segment = [f"{i} · {b}" for i, b in zip(industries, bands, strict=True)]
    return qualified.assign(sql=sql, opportunity=opportunity, won=won, channel=channel, segment=segment)


def outcomes_rowwise(contacts: pd.DataFrame, qualified: pd.DataFrame) -> pd.DataFrame:
    """``outcomes`` one contact at a time: the reference of ``replay="weekly"``."""
    if qualified.empty:
        return qualified.assign(sql=False, opportunity=False, won=False, channel="", segment="")
    ids = qualified["contact_id"].astype(int).tolist()
    info = contacts.set_index("contact_id").loc[ids]
    sql_days: dict[int, datetime.date] = {}
    for cid, at in LifecycleTransition.objects.filter(contact_id__in=ids, to_stage="sql").values_list(
        "contact_id", "at"
    ):
        sql_days[cid] = min(sql_days.get(cid, as_date(at)), as_date(at))
    current = dict(Contact.objects.filter(pk__in=ids).values_list("pk", "lifecycle_stage"))
    accounts = sorted({int(a) for a in info["account_id"].dropna()})
    opps: dict[int, list] = {}
    for account_id, created, stage, channel in Opportunity.objects.filter(
        account_id__in=accounts
    ).values_list("account_id", "created_date", "stage", "channel__name"):
        if created:
            opps.setdefault(account_id, []).append((created, stage, channel))
    channels = _contact_channels(ids)
    sql, opportunity, won, channel_of, segment = [], [], [], [], []
    for cid, week in zip(ids, qualified["week"], strict=True):
        account = info.loc[cid, "account_id"]
        later = (
            sorted(o for o in opps.get(int(account), []) if o[0] >= week - datetime.timedelta(days=7))
            if not pd.isna(account)
            else []
        )
        sql.append(cid in sql_days and sql_days[cid] >= week - datetime.timedelta(days=7)
                   or current.get(cid) in {"sql", "opportunity", "customer"} and bool(later))  # fmt: skip
        opportunity.append(bool(later))
        won.append(any(o[1] == "won" for o in later))
        channel_of.append(channels.get(cid) or (later[0][2] if later and later[0][2] else "No campaign"))
        segment.append(
            f"{info.loc[cid, 'account.industry'] or 'Unknown industry'} · "
            f"{_size_band(info.loc[cid, 'account.employee_count'])}"
        )
    return qualified.assign(sql=sql, opportunity=opportunity, won=won, channel=channel_of, segment=segment)


def _contact_channels(ids: list[int]) -> dict[int, str]:
    """The channel of the campaign that last touched each contact (events carrying a campaign)."""
    if not ids:
        return {}
    out: dict[int, tuple] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT e.contact_id, MAX(e.occurred_at), ch.name FROM {table_sql(EngagementEvent)} e "
                f"JOIN {table_sql(Campaign)} c ON c.id = e.campaign_id "
                f"JOIN {table_sql(Channel)} ch ON ch.id = c.channel_id "
                f"WHERE e.campaign_id IS NOT NULL AND e.contact_id IN ({', '.join(['%s'] * len(chunk))}) "
                f"GROUP BY e.contact_id, ch.name",
                chunk,
            )
            for cid, when, name in cursor.fetchall():
                if cid not in out or str(when) > str(out[cid][0]):
                    out[cid] = (when, name)
    return {cid: name for cid, (_when, name) in out.items()}


def _totals(frame: pd.DataFrame) -> dict:
    return {
        "mql": int(len(frame)),
        "sal": int(frame["sal_week"].notna().sum()) if len(frame) else 0,
        "sql": int(frame["sql"].sum()) if len(frame) else 0,
        "opportunity": int(frame["opportunity"].sum()) if len(frame) else 0,
        "won": int(frame["won"].sum()) if len(frame) else 0,
    }


def _breakdown(draft: pd.DataFrame, baseline: pd.DataFrame, column: str) -> list[dict]:
    keys = sorted(set(draft[column]) | set(baseline[column])) if len(draft) or len(baseline) else []
    rows = [
        {
            column: key,
            "draft": _totals(draft[draft[column] == key]),
            "baseline": _totals(baseline[baseline[column] == key]),
        }
        for key in keys
    ]
    return sorted(rows, key=lambda r: -(r["draft"]["mql"] + r["baseline"]["mql"]))


def _top(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a list shows: the best fit and engagement first, at most ``LIST_LIMIT``."""
    return (
        frame.assign(total=frame["fit"] + frame["engagement"])
        .sort_values("total", ascending=False)
        .head(LIST_LIMIT)
    )


def _rows_of(frame: pd.DataFrame | None, ids: set[int], campaign: bool = False) -> dict[int, list[tuple]]:
    """The activity rows of ``ids`` as the one-record engine reads them, per contact, in frame order."""
    out: dict[int, list[tuple]] = {}
    if frame is None or frame.empty or not ids:
        return out
    columns = ["entity", "day", "event_type", "key", "count"] + (["campaign_id"] if campaign else [])
    mine = frame[frame["entity"].isin(list(ids))]
    for entity, *values in mine[columns].itertuples(index=False, name=None):
        out.setdefault(int(entity), []).append(tuple(values))
    return out


def _words(event_type: str) -> str:
    return event_type.replace("_", " ")


class _Explainer:
    """Why a listed contact qualifies under one version and not under the other, from the one-record
    engine (``score_contact``) at the week it qualified and at the window's weeks: the same numbers as
    the replay's (a property test holds the two engines together)."""

    def __init__(self, population: Population, ids: set[int], start: datetime.date, weeks: list):
        self.start, self.weeks = start, weeks
        contacts = population.contacts
        mine = contacts[contacts["contact_id"].isin(list(ids))]
        self.records = {int(r["contact_id"]): r for r in mine.to_dict("records")}
        self.activity = _rows_of(population.activity, ids)
        self.campaign = _rows_of(population.campaign_activity, ids, campaign=True)

    def score(self, spec: RulesetSpec, contact_id: int, as_of: datetime.date):
        return score_contact(
            spec,
            self.records[contact_id],
            self.activity.get(contact_id, ()),
            self.campaign.get(contact_id, ()),
            as_of=as_of,
        )

    def why(self, spec: RulesetSpec, label: str, contact_id: int, week: datetime.date) -> dict:
        """The path by which ``spec`` qualified the contact in ``week``: its words, and the fit and
        engagement it had then."""
        one = self.score(spec, contact_id, week)
        previous = week - datetime.timedelta(days=7)
        if one.fast_track and one.fast_track_day is not None and one.fast_track_day > day_ordinal(previous):
            day = EPOCH + datetime.timedelta(days=one.fast_track_day)
            stage = "SAL" if spec.sal_enabled else "MQL"
            reason = f"{label}: fast-track — {_words(one.fast_track)} on {day.isoformat()} → {stage}"
            return {"path": "fast-track", "reason": reason, "fit": one.fit, "engagement": one.engagement,
                    "fast_track": one.fast_track}  # fmt: skip
        rules = {r.id: r for r in spec.rules}
        fired = sorted(
            (row for row in one.explanation if rules.get(row[0]) and rules[row[0]].kind == "engagement"),
            key=lambda row: -abs(row[2]),
        )[:3]
        sources = ", ".join(f"{name} {points:+.3g}" for _id, name, points in fired)
        reason = (
            f"{label}: MQL definition — fit {one.fit:g} ≥ {spec.mql_fit_min:g} and engagement "
            f"{one.engagement:.3g} ≥ {spec.mql_engagement_min:g} on {week.isoformat()}"
            + (f" ({sources})" if sources else "")
        )
        return {"path": "MQL definition", "reason": reason, "fit": one.fit, "engagement": one.engagement}

    def why_not(self, spec: RulesetSpec, label: str, contact_id: int, week: datetime.date, path: dict) -> str:
        """Why ``spec`` did not qualify the contact in the window (it did not, and it had no MQL then)."""
        at_start = self.score(spec, contact_id, self.start)
        if at_start.mql:
            return f"{label}: already an MQL before the window (engagement {at_start.engagement:.3g})"
        one = self.score(spec, contact_id, week)
        if one.excluded:
            return f"{label}: excluded — {one.excluded}"
        if one.missing:
            return f"{label}: missing required data ({one.missing.replace(',', ', ')})"
        if one.fit < spec.mql_fit_min:
            return f"{label}: fit {one.fit:g} < {spec.mql_fit_min:g}"
        words = []
        if path["path"] == "fast-track":
            words.append(f"{_words(path['fast_track'])} is not one of its fast-track actions")
        peak, peak_week = max(
            ((self.score(spec, contact_id, w).engagement, w) for w in self.weeks),
            key=lambda pair: pair[0],
            default=(one.engagement, week),
        )
        words.append(
            f"engagement at most {peak:.3g} (on {peak_week.isoformat()}) < {spec.mql_engagement_min:g}"
        )
        return f"{label}: " + "; ".join(words)


def _people(
    frame: pd.DataFrame,
    contacts: pd.DataFrame,
    explainer: _Explainer | None = None,
    this: tuple[RulesetSpec, str] | None = None,
    other: tuple[RulesetSpec, str] | None = None,
) -> list[dict]:
    """The listed contacts of ``frame`` with their actual outcome and, with an ``explainer``, why
    ``this`` version qualifies them (``reason``, with the fit and engagement in that week) and why
    ``other`` does not (``other_reason``). ``engagement_now``: as of the end of the window."""
    if frame.empty:
        return []
    top = _top(frame)
    info = contacts.set_index("contact_id")
    out = []
    for row in top.itertuples(index=False):
        person = info.loc[row.contact_id]
        outcome = (
            "won" if row.won else "opportunity" if row.opportunity else "SQL" if row.sql else "no progress"
        )
        item = {
            "contact_id": int(row.contact_id), "email": person["email"],
            "name": f"{person['first_name'] or ''} {person['last_name'] or ''}".strip(),
            "account": person["account.name"] or "", "fit": float(row.fit),
            "engagement": float(row.engagement), "engagement_now": float(row.engagement),
            "week": row.week.isoformat(), "outcome": outcome,
        }  # fmt: skip
        if explainer is not None and this is not None and other is not None:
            path = explainer.why(*this, int(row.contact_id), row.week)
            item.update(
                path=path["path"],
                reason=path["reason"],
                fit=float(path["fit"]),
                engagement=float(path["engagement"]),
                other_reason=explainer.why_not(*other, int(row.contact_id), row.week, path),
            )
        out.append(item)
    return out


def _sal_note(draft: RulesetSpec, baseline: RulesetSpec, labels: dict[str, str]) -> str:
    """What the SAL figures can and cannot show, in words for the page."""
    note = (
        "SALs here are the contacts a fast-track action took straight to SAL; sales accepting an MQL is "
        "a person's decision the replay cannot make, so it is not in these figures."
    )
    differences = []
    for spec, label in ((draft, labels["draft"]), (baseline, labels["baseline"])):
        if not spec.sal_enabled:
            differences.append(f"{label} has no SAL stage (its fast-track actions make MQLs)")
    same_exclusions = all(
        getattr(draft, name) == getattr(baseline, name)
        for name in ("exclude_free_mail", "free_mail_domains", "excluded_title_pattern",
                     "excluded_industries", "excluded_countries", "competitor_domains")
    )  # fmt: skip
    same_fast_track = (set(draft.fast_track), draft.fast_track_days) == (
        set(baseline.fast_track),
        baseline.fast_track_days,
    )
    if not differences and same_fast_track and same_exclusions:
        actions = ", ".join(_words(t) for t in sorted(draft.fast_track)) or "none"
        return (
            f"{note} Both versions fast-track the same actions ({actions}) with the same exclusions, so "
            "their SALs stay (nearly) equal however far the MQLs move."
        )
    if not same_fast_track:
        for spec, label in ((draft, labels["draft"]), (baseline, labels["baseline"])):
            actions = ", ".join(_words(t) for t in sorted(spec.fast_track)) or "none"
            differences.append(f"{label} fast-tracks {actions} (within {spec.fast_track_days} days)")
    if not same_exclusions:
        differences.append("the exclusions")
    return f"{note} What differs: " + "; ".join(differences) + "."


def _mql_at_start(
    spec: RulesetSpec, population: Population, scores: TimelineScores | None, start: datetime.date
) -> set[int]:
    """The contacts ``spec`` had as MQLs (by its definition) at the window's start: row 0 of its
    timeline ``scores`` (the timeline's first date is the start), or the engine run as of then."""
    if scores is not None:
        mql = scores.mql[0]
    else:
        mql = evaluate_contacts(spec, population, as_of=start)["mql"].to_numpy(dtype=bool)
    ids = population.contacts["contact_id"].to_numpy(dtype=np.int64)
    return set(ids[mql].tolist()) if len(ids) else set()


def activity_frame(spec, as_of: datetime.date, *, days: int, account_ids: list[int] | None) -> pd.DataFrame:
    """``contact_activity``'s rows (the same query, order and columns) read as COPY on PostgreSQL —
    millions of rows at a million contacts — and, for a segment, only its contacts' rows."""
    where, params = "1 = 1", []
    if account_ids is not None:
        clause, params = ids_condition("c.account_id", account_ids)
        where = f"r.contact_id IN (SELECT c.id FROM {table_sql(Contact)} c WHERE {clause})"
    # contact_activity's window: up to as_of, back the rules' lookback plus the replayed days.
    window, window_params = "r.day <= %s", [as_of]
    if spec.lookback_days is not None:
        window += " AND r.day > %s"
        window_params.append(as_of - datetime.timedelta(days=spec.lookback_days + days))
    day = "(r.day - DATE '1970-01-01')" if is_postgres() else "CAST(julianday(r.day) - 2440587.5 AS INTEGER)"
    sql = f"""
        SELECT r.contact_id, {day}, r.event_type, r.key, r.count
        FROM {table_sql(ContactActivityDaily)} r WHERE {window} AND {where}
        ORDER BY r.contact_id, r.day, r.event_type, r.key
    """
    kinds = {"entity": "int", "day": "int", "event_type": "text", "key": "text", "count": "int"}
    frame = frame_read(sql, window_params + params, kinds)
    if not len(frame):
        return empty_activity()
    for column in ("entity", "day", "count"):
        frame[column] = frame[column].astype("int64")
    return frame


def whatif_compute(
    *,
    ruleset: Ruleset,
    baseline: Ruleset,
    days: int = 90,
    as_of: datetime.date | None = None,
    account_ids: list[int] | None = None,
    replay: str = "timeline",
) -> dict:
    """The comparison (see the module docstring) as a JSON-ready dict; with ``account_ids``, only the
    contacts of those accounts (a segment) are replayed. ``replay="weekly"`` runs the engine once per
    week and version (the reference the tests and the benchmark hold the default against)."""
    if replay not in ("timeline", "weekly"):
        raise ValueError(f"unknown replay {replay!r}")
    as_of = as_of or today()
    start = as_of - datetime.timedelta(days=days)
    weeks = sorted({as_of - datetime.timedelta(days=7 * k) for k in range(0, (days + 6) // 7)})
    weeks = [w for w in weeks if w > start]
    specs = {"draft": spec_for(ruleset), "baseline": spec_for(baseline)}
    # One load serves both versions and every week: the union of their rules tells which fields and
    # how much history; activity reaches back the window plus the longest lookback.
    both = replace(
        specs["draft"],
        rules=specs["draft"].rules + specs["baseline"].rules,
        fast_track_days=max(specs["draft"].fast_track_days, specs["baseline"].fast_track_days),
    )
    contacts = contacts_frame(both)
    if account_ids is not None:
        contacts = contacts[contacts["account_id"].isin(account_ids)].reset_index(drop=True)
    if replay == "weekly":
        activity = contact_activity(both, as_of, where="1 = 1", params=[], extra_days=days)
        if account_ids is not None:
            # Only the segment's rows (the engine drops the others anyway), so that a segment's replay
            # costs what its contacts cost: the benchmark extrapolates the world's from a sample's.
            activity = activity[activity["entity"].isin(contacts["contact_id"])].reset_index(drop=True)
    else:
        activity = activity_frame(both, as_of, days=days, account_ids=account_ids)
    population = Population(
        contacts=contacts,
        accounts=pd.DataFrame({"account_id": pd.Series(dtype="int64")}),
        activity=activity,
        anonymous=empty_activity(),
        campaign_activity=campaign_activity(
            both, as_of, entity="contact_id", where="1 = 1", params=[], extra_days=days
        ),
        anonymous_campaign=empty_activity(True),
    )
    timeline = Timeline.build(population, [start, *weeks]) if replay == "timeline" else None
    if timeline is not None:
        scores = {name: evaluate_timeline(spec, timeline) for name, spec in specs.items()}
        frames = outcomes(
            contacts,
            {name: qualifications(spec, timeline, weeks, scores[name]) for name, spec in specs.items()},
        )
    else:
        frames = {
            name: outcomes_rowwise(contacts, qualifications_weekly(spec, population, weeks, start))
            for name, spec in specs.items()
        }
    by_week = []
    for week in weeks:
        by_week.append(
            {"week": week.isoformat(),
             **{name: {"mql": int((f["week"] == week).sum()),
                       "sal": int((f["sal_week"] == week).sum())}
                for name, f in frames.items()}}
        )  # fmt: skip
    draft_ids, base_ids = set(frames["draft"]["contact_id"]), set(frames["baseline"]["contact_id"])
    # A contact the other version had as an MQL already at the window's start is not newly qualified
    # (nor dropped): that version made it an MQL before, this one in the window (later).
    before = {
        name: _mql_at_start(spec, population, scores[name] if timeline is not None else None, start)
        for name, spec in specs.items()
    }
    newly_ids, dropped_ids = draft_ids - base_ids, base_ids - draft_ids
    newly = frames["draft"][frames["draft"]["contact_id"].isin(newly_ids - before["baseline"])]
    dropped = frames["baseline"][frames["baseline"]["contact_id"].isin(dropped_ids - before["draft"])]
    labels = {"draft": f"v{ruleset.number}", "baseline": f"v{baseline.number}"}
    listed = set(_top(newly)["contact_id"].astype(int)) | set(_top(dropped)["contact_id"].astype(int))
    explainer = _Explainer(population, listed, start, weeks)
    draft_side, base_side = (specs["draft"], labels["draft"]), (specs["baseline"], labels["baseline"])
    return {
        "days": days,
        "as_of": as_of.isoformat(),
        "ruleset": {"id": ruleset.pk, "number": ruleset.number, "name": ruleset.name},
        "baseline": {"id": baseline.pk, "number": baseline.number, "name": baseline.name},
        "contacts": len(contacts),
        "accounts_limited_to": None if account_ids is None else len(account_ids),
        "weeks": by_week,
        "totals": {name: _totals(f) for name, f in frames.items()},
        "by_channel": _breakdown(frames["draft"], frames["baseline"], "channel"),
        "by_segment": _breakdown(frames["draft"], frames["baseline"], "segment"),
        "newly_qualified": _people(newly, contacts, explainer, draft_side, base_side),
        "newly_qualified_count": len(newly),
        "newly_qualified_earlier_count": len(newly_ids & before["baseline"]),
        "dropped": _people(dropped, contacts, explainer, base_side, draft_side),
        "dropped_count": len(dropped),
        "dropped_earlier_count": len(dropped_ids & before["draft"]),
        "sal_note": _sal_note(specs["draft"], specs["baseline"], labels),
    }


def whatif_run_start(
    *,
    ruleset: Ruleset,
    user,
    days: int = 90,
    baseline: Ruleset | None = None,
    account_ids: list[int] | None = None,
    scope: str = "",
) -> WhatIfRun:
    """Queue a what-if run (in-process in the embedded mode); its result lands on the run. With
    ``account_ids`` (and ``scope``, their name in words) only those accounts' contacts are replayed."""
    if account_ids is not None:
        account_ids = sorted({int(i) for i in account_ids})
    if not isinstance(days, int) or not 7 <= days <= MAX_DAYS:
        raise ValidationError({"days": f"Choose between 7 and {MAX_DAYS} days."})
    if baseline is None:
        baseline = Ruleset.objects.filter(status=RulesetStatus.PUBLISHED).first()
        if baseline is None:
            raise ValidationError({"baseline": "There is no published version to compare with; choose one."})
    with transaction.atomic():
        # The same comparison asked for while it is queued or running is that run (``existing``): the
        # ruleset's row lock makes racing requests take turns.
        Ruleset.objects.select_for_update().filter(pk=ruleset.pk).first()
        run = WhatIfRun.objects.filter(
            ruleset=ruleset, baseline=baseline, days=days, status__in=["pending", "running"],
            updated__gte=timezone.now() - JOB_ABANDONED_AFTER,  # older: its worker is gone
            scope=scope,
        ).first()  # fmt: skip
        if run is not None and run.account_ids == account_ids:
            run.existing = True
            return run
        run = WhatIfRun.objects.create(
            ruleset=ruleset,
            baseline=baseline,
            days=days,
            requested_by=user,
            scope=scope,
            account_ids=account_ids,
        )
        run.existing = False

        def failed(words: str) -> None:
            WhatIfRun.objects.filter(pk=run.pk).update(status="failed", error=words)

        transaction.on_commit(
            lambda: job_send(whatif_task.delay, run.pk, name=f"whatif-{run.pk}", failed=failed)
        )
    return run


@shared_task(name="scoring.tasks.whatif_task")
def whatif_task(run_id: int) -> str:
    run = WhatIfRun.objects.select_related("ruleset", "baseline").get(pk=run_id)
    if run.status == "succeeded":
        return run.status
    WhatIfRun.objects.filter(pk=run.pk).update(status="running")
    try:
        result = whatif_compute(
            ruleset=run.ruleset, baseline=run.baseline, days=run.days, account_ids=run.account_ids
        )
    except Exception as exc:
        log.exception("what-if %s failed", run.pk)
        WhatIfRun.objects.filter(pk=run.pk).update(status="failed", error=f"{type(exc).__name__}: {exc}")
        return "failed"
    WhatIfRun.objects.filter(pk=run.pk).update(status="succeeded", result=result, error="")
    return "succeeded"
