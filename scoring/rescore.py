"""Rescoring: the whole population in chunks (vectorised engine) or a few contacts at once (one-record
engine), written back set-based with only changed rows touched, then the automatic lifecycle moves.

Phase 1 scores contacts by id range; phase 2 rolls the stored contact scores up to accounts by id
range (adding their anonymous activity). The incremental path does both for what an event or an edit
touched, reading the same data through the same loaders (``scoring.population``).
"""

import datetime
import json
import logging
import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import numpy as np
import pandas as pd
from celery import current_app, shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts.choices import EventType
from accounts.models import Account, Contact
from revops.audit import change_record_create, model_snapshot
from revops.background import debounced_run, deferred_note
from revops.bulk import ids_condition, is_postgres, table_sql
from revops.choices import ChangeAction
from revops.chunks import TRANSIENT, Failure, Isolated, Run, error_words, local_runner, range_run_isolated
from revops.instruments import SCORED
from revops.models import JobRun
from revops.services import job_run_progress
from scoring.choices import RulesetStatus
from scoring.delivery import notifications
from scoring.engine import lifecycle as lifecycle_engine
from scoring.engine.rules import (
    ContactResult,
    RulesetSpec,
    account_explanation_for,
    evaluate_accounts,
    evaluate_contacts,
    score_account,
    score_contact,
)
from scoring.learned import families
from scoring.learned.predictions import accounts_rescore, contacts_model_rescore
from scoring.models import (
    AccountRuleScore,
    ContactScore,
    ContactScoreHistory,
    LifecycleTransition,
    Ruleset,
    ScoringOutbox,
)
from scoring.population import (
    account_population,
    contacts_by_ids,
    contacts_by_range,
    lifecycle_context,
    spec_for,
)
from scoring.store import (
    changed_mask,
    derived_data_commit,
    frame_copy,
    id_bounds,
    insert_or_upsert,
    stored_read,
    today,
    upsert,
)

log = logging.getLogger(__name__)

CONTACT_CHUNK = getattr(settings, "SCORING_CONTACT_CHUNK", 100_000)
ACCOUNT_CHUNK = getattr(settings, "SCORING_ACCOUNT_CHUNK", 50_000)
SCORE_FIELDS = ["ruleset_id", "fit", "engagement", "fit_grade", "engagement_grade", "excluded", "fast_track"]
ACCOUNT_FIELDS = ["ruleset_id", "fit", "engagement", "anonymous_engagement", "fit_grade", "engagement_grade"]


class NoPublishedRuleset(Exception):
    pass


def published() -> Ruleset:
    ruleset = Ruleset.objects.filter(status=RulesetStatus.PUBLISHED).first()
    if ruleset is None:
        raise NoPublishedRuleset("No published ruleset: publish a version before scoring.")
    return ruleset


# --- writing scores -------------------------------------------------------------------------------------
def contact_scores_write(
    *, ruleset_id: int, result: pd.DataFrame, as_of: datetime.date, now: datetime.datetime, where: str,
    params: list, full_chunk: bool = False,
) -> int:  # fmt: skip
    """Write the scores of ``result`` that changed (and their history rows); returns how many.
    ``full_chunk``: ``where`` is a full rescore's chunk of contacts, scored once at ``now``.

    Only numbers are written: a contact's explanation is recomputed when someone reads it
    (``contact_score_explanation``), from the day's data the score used (``as_of``) under the version that
    made it. Writing a million explanations as jsonb cost a full rescore more than the scores themselves."""
    if result.empty:
        return 0
    SCORED.labels(entity="contact").inc(len(result))  # scored, whether or not the score changed
    result = result.assign(ruleset_id=ruleset_id)
    current = stored_read(table_sql(ContactScore), "contact_id", SCORE_FIELDS, where, params)
    changed = np.flatnonzero(changed_mask(result, current, "contact_id", SCORE_FIELDS))
    if not len(changed):
        return 0
    out = result.iloc[changed][["contact_id", *SCORE_FIELDS]].reset_index(drop=True)
    out["as_of"] = as_of.isoformat()
    out["scored_at"] = now.isoformat()
    fresh = ~out["contact_id"].isin(current["contact_id"]) if len(current) else np.ones(len(out), dtype=bool)
    insert_or_upsert(ContactScore, "contact_id", out, np.asarray(fresh, dtype=bool))
    share = len(out) / len(result) if full_chunk else 0.0
    _history_write(out, where=where, params=params, now=now, share=share)
    return len(out)


HISTORY_FIELDS = [
    "contact_id", "ruleset_id", "fit", "engagement", "fit_grade", "engagement_grade", "excluded", "scored_at",
    "as_of",
]  # fmt: skip


# At least this share of a chunk's scores written: their history rows are read from the chunk's rows by id
# range and the rescore's timestamp (one range scan) rather than looked up one id at a time. 200,000 scores
# rewritten, three pairs in psql: 0.78–1.13 s against 1.05–1.33 s; when few change, the lookups win.
HISTORY_BY_RANGE_SHARE = 0.25


def _history_write(
    out: pd.DataFrame, *, where: str, params: list, now: datetime.datetime, share: float
) -> None:
    """A history row for each score just written (``out``: ``share`` of a full rescore's chunk ``where``,
    0 elsewhere). On PostgreSQL it is copied from the score rows inside the database: sending the same
    million rows a second time as CSV cost a full rescore seconds of Python. In a full rescore's chunk the
    rows just written are the chunk's rows stamped ``now`` (its other scores keep an older stamp, each chunk
    is written once, and this transaction holds the written rows)."""
    if not is_postgres():
        frame_copy(table_sql(ContactScoreHistory), out[HISTORY_FIELDS].assign(explanation="[]"))
        return
    columns = ", ".join(HISTORY_FIELDS)
    if share >= HISTORY_BY_RANGE_SHARE:
        condition, values = f"({where}) AND scored_at = %s", [*params, now]
    else:
        condition, values = "contact_id = ANY(%s::bigint[])", [out["contact_id"].astype(np.int64).tolist()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table_sql(ContactScoreHistory)} ({columns}, explanation) "
            f"SELECT {columns}, '[]' FROM {table_sql(ContactScore)} WHERE {condition}",
            values,
        )
        if cursor.rowcount != len(out):  # a stamp shared with rows this call did not write: never expected
            raise RuntimeError(f"history: {cursor.rowcount} rows copied for {len(out)} scores written")


def account_scores_write(
    *, ruleset_id: int, result: pd.DataFrame, explain: Callable[[int], list], now: datetime.datetime,
    where: str, params: list,
) -> int:  # fmt: skip
    if result.empty:
        return 0
    SCORED.labels(entity="account").inc(len(result))
    result = result.assign(ruleset_id=ruleset_id)
    current = stored_read(table_sql(AccountRuleScore), "account_id", ACCOUNT_FIELDS, where, params)
    changed = np.flatnonzero(changed_mask(result, current, "account_id", ACCOUNT_FIELDS))
    if not len(changed):
        return 0
    out = result.iloc[changed][["account_id", *ACCOUNT_FIELDS]].reset_index(drop=True)
    out["explanation"] = [json.dumps(explain(i)) for i in changed.tolist()]
    out["scored_at"] = now.isoformat()
    upsert(AccountRuleScore, "account_id", out)
    return len(out)


# --- lifecycle ----------------------------------------------------------------------------------------------
def lifecycle_apply(
    *, spec: RulesetSpec, contacts: pd.DataFrame, result: pd.DataFrame, now: datetime.datetime,
    transitions_where: str = "", transitions_params: list | None = None,
) -> list[LifecycleTransition]:  # fmt: skip
    """Decide the automatic moves, apply them (compare-and-set on the stage, so a person's decision
    taken meanwhile wins) and record the transitions; notify on MQL/SQL crossings."""
    if result.empty:
        return []
    context = lifecycle_context(
        result["contact_id"].to_numpy(), result["account_id"].to_numpy(), contacts["created_day"].to_numpy(),
        where=transitions_where, params=transitions_params,
    )  # fmt: skip
    to, rule, reason = lifecycle_engine.decide(
        spec,
        stage=contacts["lifecycle_stage"].to_numpy(dtype=object),
        excluded=result["excluded"].to_numpy(dtype=object),
        mql=result["mql"].to_numpy(),
        fit=result["fit"].to_numpy(),
        engagement=result["engagement"].to_numpy(),
        fast_track=result["fast_track"].to_numpy(dtype=object),
        fast_track_day=result["fast_track_day"].to_numpy(dtype=np.int64),
        labels=dict(EventType.choices),
        **context,
    )
    moving = np.flatnonzero(to != "")
    if not len(moving):
        return []
    ids = result["contact_id"].to_numpy()
    stages = contacts["lifecycle_stage"].to_numpy(dtype=object)
    moves = {int(ids[i]): (stages[i], to[i], rule[i], reason[i]) for i in moving}
    applied = _stages_set(moves, now)
    transitions = _transitions_insert(
        [
            LifecycleTransition(
                contact_id=cid,
                from_stage=moves[cid][0],
                to_stage=moves[cid][1],
                at=now,
                rule=moves[cid][2],
                ruleset_id=spec.id,
                reason=moves[cid][3],
            )  # fmt: skip
            for cid in sorted(applied)
        ]
    )
    if transitions:
        notifications.stage_change_notify(transitions=transitions)
    return transitions


def _transitions_insert(transitions: list[LifecycleTransition]) -> list[LifecycleTransition]:
    """Insert automatic moves (no actor, decision or checklist), each given its id. On PostgreSQL one
    statement over arrays: ``bulk_create`` prepared every value of every row in Python (~2.5 s of a
    million-contact rescore that moves 15,000 contacts)."""
    if not transitions or not is_postgres():
        return LifecycleTransition.objects.bulk_create(transitions)
    with connection.cursor() as cursor:
        columns = "contact_id, from_stage, to_stage, at, rule, ruleset_id, reason"
        cursor.execute(
            f"INSERT INTO {table_sql(LifecycleTransition)} ({columns}, decision, reason_code, checklist) "
            f"SELECT {columns}, '', '', '{{}}' FROM unnest(%s::bigint[], %s::text[], %s::text[], "
            f"%s::timestamptz[], %s::text[], %s::bigint[], %s::text[]) AS s({columns}) "
            "RETURNING id, contact_id",
            [
                [t.contact_id for t in transitions], [t.from_stage for t in transitions],
                [t.to_stage for t in transitions], [t.at for t in transitions], [t.rule for t in transitions],
                [t.ruleset_id for t in transitions], [t.reason for t in transitions],
            ],
        )  # fmt: skip
        ids = {contact_id: pk for pk, contact_id in cursor.fetchall()}
    for t in transitions:  # a contact moves at most once a run
        t.pk, t.decision, t.reason_code = ids[t.contact_id], "", ""
        t._state.adding, t._state.db = False, connection.alias
    return transitions


def _stages_set(moves: dict[int, tuple], now: datetime.datetime) -> set[int]:
    """Set each contact's stage where it still is what the decision saw; return those changed."""
    table = table_sql(Contact)
    with connection.cursor() as cursor:
        if is_postgres():
            ids = list(moves)
            cursor.execute(
                f"UPDATE {table} c SET lifecycle_stage = s.to_stage, updated = %s "
                f"FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS s(id, from_stage, to_stage) "
                f"WHERE c.id = s.id AND c.lifecycle_stage = s.from_stage RETURNING c.id",
                [now, ids, [moves[i][0] for i in ids], [moves[i][1] for i in ids]],
            )
            return {row[0] for row in cursor.fetchall()}
        applied = set()
        for cid, (old, new, *_rest) in moves.items():
            cursor.execute(
                f"UPDATE {table} SET lifecycle_stage = %s, updated = %s "
                "WHERE id = %s AND lifecycle_stage = %s",
                [new, now, cid, old],
            )
            if cursor.rowcount:
                applied.add(cid)
        return applied


# --- the batch path -----------------------------------------------------------------------------------------
def contacts_chunk_rescore(*, spec: RulesetSpec, as_of: datetime.date, low: int, high: int, now) -> dict:
    """Score contacts with ``low <= id < high`` (vectorised) and write what changed. Idempotent."""
    population = contacts_by_range(spec, as_of, low, high)
    result = evaluate_contacts(spec, population, as_of=as_of)
    with transaction.atomic():
        derived_data_commit()
        written = contact_scores_write(
            ruleset_id=spec.id, result=result, as_of=as_of, now=now,
            where="contact_id >= %s AND contact_id < %s", params=[low, high], full_chunk=True,
        )  # fmt: skip
        moved = lifecycle_apply(
            spec=spec, contacts=population.contacts, result=result, now=now,
            transitions_where="t.contact_id >= %s AND t.contact_id < %s", transitions_params=[low, high],
        )  # fmt: skip
    return {
        "contacts": len(result), "written": written, "moved": len(moved),
        # Scored as meeting the MQL definition, whatever the stage: not "MQLs" (scoring.metrics).
        "meets_mql_definition": int(result["mql"].sum()),
        "scores": result[["contact_id", "account_id", "fit", "engagement", "excluded"]],
    }  # fmt: skip


def accounts_chunk_rescore(
    *, spec: RulesetSpec, as_of: datetime.date, low: int, high: int, now, scores: pd.DataFrame | None = None
) -> dict:
    """Roll contact scores (``scores``, or the stored ones) up to accounts with ``low <= id < high``.
    Idempotent."""
    if scores is not None:
        scores = scores[(scores["account_id"] >= low) & (scores["account_id"] < high)]
    population, scores = account_population(spec, as_of, low=low, high=high, scores=scores)
    result = evaluate_accounts(spec, population, scores, as_of=as_of)
    with transaction.atomic():
        derived_data_commit()
        written = account_scores_write(
            ruleset_id=spec.id, result=result, explain=lambda j: account_explanation_for(result, j), now=now,
            where="account_id >= %s AND account_id < %s", params=[low, high],
        )  # fmt: skip
    return {"accounts": len(result), "written": written}


def rescore_all(
    *, ruleset: Ruleset | None = None, as_of: datetime.date | None = None, job: JobRun | None = None,
    progress: Callable[[int, int], None] | None = None, processes: int = 1,
) -> dict:  # fmt: skip
    """Rescore every contact and account under ``ruleset`` (default: the published one).

    ``processes`` > 1 spreads the chunks over that many local processes (PostgreSQL only): one chunk's
    Python then overlaps another's database work. Across machines the same chunks are Celery tasks."""
    ruleset = ruleset or published()
    spec = spec_for(ruleset)
    as_of = as_of or today()
    now = timezone.now()

    c_low, c_high = id_bounds(Contact)
    a_low, a_high = id_bounds(Account)
    contact_chunks = [(low, low + CONTACT_CHUNK) for low in range(c_low, c_high + 1, CONTACT_CHUNK)]
    account_chunks = [(low, low + ACCOUNT_CHUNK) for low in range(a_low, a_high + 1, ACCOUNT_CHUNK)]
    total = len(contact_chunks) + len(account_chunks)
    totals = {
        "contacts": 0,
        "contacts_written": 0,
        "moved": 0,
        "meets_mql_definition": 0,
        "accounts": 0,
        "accounts_written": 0,
    }
    done = 0
    with runner(processes if is_postgres() else 1) as run:
        # What phase 1 computed feeds phase 2 directly (the same values it stored).
        computed = []
        for stats in run(contacts_chunk_rescore, [dict(spec=spec, as_of=as_of, low=lo, high=hi, now=now)
                                                  for lo, hi in contact_chunks]):  # fmt: skip
            computed.append(stats["scores"])
            for key in ("contacts", "moved", "meets_mql_definition"):
                totals[key] += stats[key]
            totals["contacts_written"] += stats["written"]
            done += 1
            _report(job, progress, done, total, totals)
        scores = pd.concat(computed, ignore_index=True).sort_values("contact_id") if computed else None
        if scores is not None:
            scores = scores[scores["account_id"].notna()]
        account_jobs = []
        for lo, hi in account_chunks:
            part = (
                None if scores is None else scores[(scores["account_id"] >= lo) & (scores["account_id"] < hi)]
            )
            account_jobs.append(dict(spec=spec, as_of=as_of, low=lo, high=hi, now=now, scores=part))
        for stats in run(accounts_chunk_rescore, account_jobs):
            totals["accounts"] += stats["accounts"]
            totals["accounts_written"] += stats["written"]
            done += 1
            _report(job, progress, done, total, totals)
    totals.update(ruleset=ruleset.number, as_of=as_of.isoformat())
    return totals


def _share_cores(processes: int) -> None:
    """In a pool process: XGBoost (prediction, SHAP) uses its share of the cores, not all of them — the
    pool's processes already run side by side, and more threads than cores only spin and switch."""
    families.XGB_THREADS = max(1, (os.cpu_count() or 1) // processes)


def runner(processes: int) -> AbstractContextManager[Run]:
    """``with runner(n) as run``: ``run(function, list of kwargs)`` → results as they finish, in this
    process or in one pool (kept for every run of the block) whose processes share the cores."""
    return local_runner(processes, initializer=_share_cores)


def _report(job, progress, done, total, totals) -> None:
    if job is not None:
        job_run_progress(job=job, progress=done, message=f"{totals['contacts']:,} contacts scored")
    if progress is not None:
        progress(done, total)


# --- the incremental path -----------------------------------------------------------------------------------
def rescore_contacts(
    *, contact_ids: Iterable[int] = (), account_ids: Iterable[int] = (), as_of: datetime.date | None = None
) -> dict:
    """Rescore these contacts and accounts (and the other contacts of those accounts) one record at a
    time, with the published rules. The same numbers as the batch path, by construction and by test."""
    ruleset = published()
    spec = spec_for(ruleset)
    as_of = as_of or today()
    now = timezone.now()
    account_ids = {int(a) for a in account_ids}
    contact_ids = {int(c) for c in contact_ids}
    if contact_ids:
        clause, params = ids_condition("id", contact_ids)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT account_id FROM {table_sql(Contact)} "
                f"WHERE {clause} AND account_id IS NOT NULL",
                params,
            )
            account_ids |= {row[0] for row in cursor.fetchall()}
    if account_ids:
        clause, params = ids_condition("account_id", account_ids)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {table_sql(Contact)} WHERE {clause}", params)
            contact_ids |= {row[0] for row in cursor.fetchall()}
    population = contacts_by_ids(spec, as_of, contact_ids)
    result, _explanations = _scalar_contacts(spec, population, as_of)
    id_clause, id_params = ids_condition("contact_id", sorted(contact_ids))
    with transaction.atomic():
        written = contact_scores_write(
            ruleset_id=spec.id, result=result, as_of=as_of, now=now, where=id_clause, params=id_params
        )
        moved = lifecycle_apply(spec=spec, contacts=population.contacts, result=result, now=now)
        accounts_written = 0
        if account_ids:
            acc_population, scores = account_population(spec, as_of, ids=account_ids)
            acc_result, acc_explanations = _scalar_accounts(spec, acc_population, scores, as_of)
            s_clause, s_params = ids_condition("account_id", sorted(account_ids))
            accounts_written = account_scores_write(
                ruleset_id=spec.id, result=acc_result, explain=lambda j: acc_explanations[j], now=now,
                where=s_clause, params=s_params,
            )  # fmt: skip
    return {
        "contacts": len(result), "written": written, "moved": len(moved), "accounts": len(account_ids),
        "accounts_written": accounts_written, "account_ids": sorted(account_ids),
    }  # fmt: skip


def _rows_by_entity(frame: pd.DataFrame, campaign: bool = False) -> dict[int, list[tuple]]:
    cols = ["day", "event_type", "key", "count"] + (["campaign_id"] if campaign else [])
    out: dict[int, list[tuple]] = {}
    if frame is None or frame.empty:
        return out
    for entity, *values in frame[["entity", *cols]].itertuples(index=False, name=None):
        out.setdefault(int(entity), []).append(tuple(values))
    return out


def _scalar_contacts(spec, population, as_of) -> tuple[pd.DataFrame, list[list]]:
    activity = _rows_by_entity(population.activity)
    campaign = _rows_by_entity(population.campaign_activity, campaign=True)
    rows, explanations = [], []
    for record in population.contacts.to_dict("records"):
        cid = int(record["contact_id"])
        one = score_contact(spec, record, activity.get(cid, ()), campaign.get(cid, ()), as_of=as_of)
        rows.append(
            {
                "contact_id": cid, "account_id": record["account_id"], "fit": one.fit,
                "engagement": one.engagement, "fit_grade": one.fit_grade,
                "engagement_grade": one.engagement_grade, "excluded": one.excluded,
                "missing": one.missing, "mql": one.mql, "fast_track": one.fast_track,
                "fast_track_day": one.fast_track_day if one.fast_track_day is not None else -1,
            }
        )  # fmt: skip
        explanations.append(one.explanation)
    columns = ["contact_id", "account_id", "fit", "engagement", "fit_grade", "engagement_grade", "excluded",
               "missing", "mql", "fast_track", "fast_track_day"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns), explanations


def _scalar_accounts(spec, population, scores: pd.DataFrame, as_of) -> tuple[pd.DataFrame, list[list]]:
    anonymous = _rows_by_entity(population.anonymous)
    anonymous_campaign = _rows_by_entity(population.anonymous_campaign, campaign=True)
    members: dict[int, list] = {}
    for cid, account_id, fit, engagement, excluded in scores.itertuples(index=False, name=None):
        members.setdefault(int(account_id), []).append(
            ContactResult(cid, fit, engagement, "", "", excluded, "", False, "", None)
        )
    rows, explanations = [], []
    for record in population.accounts.to_dict("records"):
        aid = int(record["account_id"])
        one = score_account(
            spec,
            record,
            members.get(aid, []),
            anonymous.get(aid, ()),
            anonymous_campaign.get(aid, ()),
            as_of=as_of,
        )
        rows.append(
            {"account_id": aid, "fit": one.fit, "engagement": one.engagement,
             "anonymous_engagement": one.anonymous_engagement, "fit_grade": one.fit_grade,
             "engagement_grade": one.engagement_grade}
        )  # fmt: skip
        explanations.append(one.explanation)
    columns = ["account_id", "fit", "engagement", "anonymous_engagement", "fit_grade", "engagement_grade"]
    return pd.DataFrame(rows, columns=columns), explanations


# --- the outbox: who changed -----------------------------------------------------------------------
DRAIN_KEY = "scoring:outbox:scheduled"
DRAIN_THREAD = "scoring-drain"
DRAIN_ROWS_SQLITE = 10
# The drainer thread's wait after the first request asking (SCORING_DRAIN_DEBOUNCE_SECONDS) doubles while
# requests keep asking during its drains, up to this: a steady feed is scored in a few large drains, each
# account once per drain instead of once every moment, and scores still follow within a few seconds.
DRAIN_DEBOUNCE_MAX = getattr(settings, "SCORING_DRAIN_DEBOUNCE_MAX_SECONDS", 2.0)
DRAIN_LOCK = 0x5C012ED  # PostgreSQL advisory lock: one embedded drainer at a time across the web processes
# A row that fails is tried again after 30 s, 1, 2 and 4 minutes; the fifth failure parks it (about 7.5
# minutes after the first) with its error, for a person to read and replay. The sweep (beat, every 10 s)
# picks up rows whose back-off has elapsed.
OUTBOX_ATTEMPTS = getattr(settings, "SCORING_OUTBOX_ATTEMPTS", 5)
OUTBOX_BACKOFF = datetime.timedelta(seconds=getattr(settings, "SCORING_OUTBOX_BACKOFF_SECONDS", 30))


def outbox_enqueue(*, contact_ids: Iterable[int] = (), account_ids: Iterable[int] = ()) -> None:
    """Record, in the caller's transaction, that these need rescoring; schedule a drain after commit
    (debounced: one scheduled drain at a time picks up everything pending)."""
    if not getattr(settings, "SCORING_INCREMENTAL", True):
        return
    contacts = sorted({int(c) for c in contact_ids if c is not None})
    accounts = sorted({int(a) for a in account_ids if a is not None})
    if not contacts and not accounts:
        return
    ScoringOutbox.objects.create(contact_ids=contacts, account_ids=accounts)
    transaction.on_commit(_drain_schedule)


def _drain_schedule() -> None:
    """Ask for a drain. The change it follows has committed: when the cache or the broker is down this
    only notes that the scoring waits (the beat sweep drains the row once the queue is back) and never
    raises into the request that wrote the change."""
    # With a broker: one queued drain at a time (beat sweeps every 10 s in case a queued one is lost).
    # Without (the embedded mode, eager tasks): the web process's drainer thread, a moment later, one
    # drain for all the requests of that moment; the request answers without waiting for the scores.
    # SCORING_DRAIN_INLINE (tests) drains here, in the request.
    try:
        if not current_app.conf.task_always_eager:
            if cache.add(DRAIN_KEY, 1, timeout=5):
                outbox_drain_task.delay()
        elif settings.SCORING_DRAIN_INLINE:
            outbox_drain_task.delay()
        else:
            _drain_soon()
    except Exception:
        log.warning("could not schedule an outbox drain; the periodic sweep will pick it up", exc_info=True)
        deferred_note("scoring will run when the queue is back")


def _drain_soon() -> None:
    debounced_run(
        outbox_drain_here,
        name=DRAIN_THREAD,
        delay=settings.SCORING_DRAIN_DEBOUNCE_SECONDS,
        max_delay=DRAIN_DEBOUNCE_MAX,
    )


def outbox_pending():
    """Rows to drain now: not processed, not parked, their back-off (if any) elapsed; oldest first."""
    now = timezone.now()
    return ScoringOutbox.objects.filter(processed_at__isnull=True, parked_at__isnull=True).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def outbox_backlog() -> tuple[int, datetime.datetime | None, int]:
    """What the outbox has not done yet: rows to drain (due now or waiting for a retry), the oldest one's
    time, and rows parked for a person. For /readyz and /metrics: two indexed counts and one look-up."""
    backlog = ScoringOutbox.objects.filter(processed_at__isnull=True, parked_at__isnull=True)
    oldest = backlog.order_by("id").values_list("created", flat=True).first()
    return backlog.count(), oldest, outbox_parked().count()


def outbox_parked():
    """Rows that failed every attempt and wait for a person's replay."""
    return ScoringOutbox.objects.filter(processed_at__isnull=True, parked_at__isnull=False)


def outbox_waiting():
    """Rows that failed and wait for their next attempt, the soonest first."""
    return ScoringOutbox.objects.filter(
        processed_at__isnull=True, parked_at__isnull=True, attempts__gt=0
    ).order_by("next_attempt_at")


def _outbox_rescore(rows: list[ScoringOutbox]) -> None:
    """Rescore what these rows name, in one savepoint: it all lands or none of it."""

    contacts = {c for r in rows for c in r.contact_ids}
    accounts = {a for r in rows for a in r.account_ids}
    with transaction.atomic():
        try:
            done = rescore_contacts(contact_ids=contacts, account_ids=accounts)
        except NoPublishedRuleset:
            return  # nothing to score with; the rows are done
        accounts_rescore(account_ids=done["account_ids"])
        contacts_model_rescore(contact_ids=contacts)


def outbox_drain(*, limit: int = 500, arrived_by_now: bool = False) -> int:
    """Rescore what pending outbox rows name, then mark them processed; returns rows processed.

    ``arrived_by_now``: only the rows written before the drain starts; rows that arrive meanwhile wait for
    the next drain (the embedded drainer's, which a moment later takes all of them at once) instead of
    being drained one request's row at a time as they come, each rescoring the same accounts again.

    A batch that fails is halved until the failing rows stand alone (``revops.chunks``): the others are
    processed, each failing row counts an attempt and waits (back-off), and after ``OUTBOX_ATTEMPTS`` it is
    parked with its error. A database that is unreachable leaves the batch as it is for the next sweep."""
    processed = 0
    last = outbox_pending().aggregate(last=Max("id"))["last"] if arrived_by_now else None
    if arrived_by_now and last is None:
        return processed
    while True:
        with transaction.atomic():
            rows = outbox_pending().order_by("id")
            if last is not None:
                rows = rows.filter(id__lte=last)
            if is_postgres():
                rows = rows.select_for_update(skip_locked=True)
            rows = list(rows[:limit])
            if not rows:
                return processed
            try:
                done = range_run_isolated(lambda lo, hi, b=rows: _outbox_rescore(b[lo:hi]), 0, len(rows))
            except TRANSIENT:
                log.exception("outbox rows %s: the database is unreachable; the sweep retries", len(rows))
                return processed
            except Exception as error:  # more rows failed than a few bad ones: count it against all
                log.exception("rescoring outbox rows %s failed", [r.pk for r in rows])
                done = Isolated([], [Failure(0, len(rows), error)])
            failed = _outbox_failures_record(rows, done.failures)
            ok = [r.pk for r in rows if r.pk not in failed]
            ScoringOutbox.objects.filter(pk__in=ok).update(processed_at=timezone.now())
            processed += len(ok)


def _outbox_failures_record(rows: list[ScoringOutbox], failures: list[Failure]) -> set[int]:
    """Count an attempt on each failing row: back off, or park it after the last one. Returns their ids."""
    now, failed = timezone.now(), set()
    for failure in failures:
        words = error_words(failure.error)
        for row in rows[failure.low : failure.high]:
            row.attempts += 1
            row.last_error = words
            if row.attempts >= OUTBOX_ATTEMPTS:
                row.parked_at, row.next_attempt_at = now, None
            else:
                row.next_attempt_at = now + OUTBOX_BACKOFF * 2 ** (row.attempts - 1)
            row.save(update_fields=["attempts", "last_error", "parked_at", "next_attempt_at"])
            failed.add(row.pk)
    if failed:
        log.warning("outbox rows %s failed: %s", sorted(failed), [error_words(f.error) for f in failures])
    return failed


@transaction.atomic
def outbox_replay(*, actor, rows: Iterable[ScoringOutbox]) -> int:
    """Put parked rows back in the queue with fresh attempts (after the cause was fixed); audited per row.
    Returns how many were replayed; a drain is scheduled after commit."""
    replayed = 0
    for row in ScoringOutbox.objects.select_for_update().filter(
        pk__in=[r.pk for r in rows], parked_at__isnull=False, processed_at__isnull=True
    ):
        before = model_snapshot(row)
        row.attempts, row.parked_at, row.next_attempt_at = 0, None, None
        row.save(update_fields=["attempts", "parked_at", "next_attempt_at"])
        change_record_create(
            actor=actor, action=ChangeAction.UPDATE, instance=row, before=before, after=model_snapshot(row)
        )
        replayed += 1
    if replayed:
        transaction.on_commit(_drain_schedule)
    return replayed


def outbox_drain_here() -> int:
    """The embedded mode's drain (the drainer thread): the rows written before it starts (what comes
    meanwhile waits for the next run, ``debounced_run``'s growing wait later, in one go); on SQLite, a few
    rows per transaction, since each holds the one write lock that the requests wait for; on PostgreSQL,
    as a worker drains, one web process at a time: two drainers at once would rescore the accounts both
    their rows name twice; the one that finds the other at work asks for its own run again (after its
    wait, grown meanwhile) instead."""
    if not is_postgres():
        return outbox_drain(limit=DRAIN_ROWS_SQLITE, arrived_by_now=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [DRAIN_LOCK])
        if not cursor.fetchone()[0]:
            _drain_soon()
            return 0
    try:
        return outbox_drain(limit=500, arrived_by_now=True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [DRAIN_LOCK])


@shared_task(name="scoring.tasks.outbox_drain_task")
def outbox_drain_task() -> int:
    try:
        cache.delete(DRAIN_KEY)  # events arriving from now on schedule another drain
    except Exception:  # the cache is down: the drain still runs (the key expires in 5 s by itself)
        log.warning("could not clear the outbox drain key", exc_info=True)
    return outbox_drain()


# --- why: explanations are recomputed, not stored ---------------------------------------------------------
def _reproduced(ruleset: Ruleset, contact_id: int, day: datetime.date) -> tuple[pd.Series | None, list]:
    """A contact's score recomputed from the data known on ``day`` under ``ruleset``, with its explanation."""
    spec = spec_for(ruleset)
    result, explanations = _scalar_contacts(spec, contacts_by_ids(spec, day, [contact_id]), day)
    if not len(result):
        return None, []
    return result.iloc[0], explanations[0]


def contact_score_explanation(score: ContactScore) -> dict:
    """Why a stored score is what it is: ``{"explanation": [[rule id, name, points], …], "current": bool}``.

    The points are recomputed from the day's data the score used (``as_of``) under the version that made
    it, which gives the stored numbers back. ``current`` is false when they do not (the contact or its
    account was edited since and its rescore is still queued): the explanation then shows the new numbers."""
    day = score.as_of or score.scored_at.astimezone(datetime.UTC).date()
    recomputed, explanation = _reproduced(score.ruleset, score.contact_id, day)
    current = recomputed is not None and (
        (float(recomputed["fit"]), float(recomputed["engagement"]), recomputed["excluded"])
        == (score.fit, score.engagement, score.excluded)
    )
    return {"explanation": explanation, "current": current}


# --- the past ------------------------------------------------------------------------------------------
def contact_score_as_of(*, contact_id: int, day: datetime.date) -> dict | None:
    """The score a contact had on ``day`` (the last change scored on or before it) and the same score
    recomputed now from the data known then, with the version that produced it.

    The two agree unless the contact's or account's fields were edited since (fields keep no history).
    """
    row = (
        ContactScoreHistory.objects.filter(contact_id=contact_id, as_of__lte=day)
        .select_related("ruleset")
        .order_by("-as_of", "-scored_at", "-id")
        .first()
    )
    if row is None:
        return None
    recomputed, explanation = _reproduced(row.ruleset, contact_id, row.as_of)
    stored = {
        "fit": row.fit, "engagement": row.engagement, "grade": f"{row.fit_grade}{row.engagement_grade}",
        "excluded": row.excluded,
    }  # fmt: skip
    reproduced = None
    if recomputed is not None:
        reproduced = {
            "fit": float(recomputed["fit"]), "engagement": float(recomputed["engagement"]),
            "grade": f"{recomputed['fit_grade']}{recomputed['engagement_grade']}",
            "excluded": recomputed["excluded"], "explanation": explanation,
        }  # fmt: skip
    return {
        "contact_id": contact_id,
        "day": day.isoformat(),
        "as_of": row.as_of.isoformat(),
        "scored_at": row.scored_at.isoformat(),
        "ruleset": {"id": row.ruleset_id, "number": row.ruleset.number},
        "stored": stored,
        "reproduced": reproduced,
        "matches": reproduced is not None
        and all(stored[k] == reproduced[k] for k in ("fit", "engagement", "grade", "excluded")),
    }
