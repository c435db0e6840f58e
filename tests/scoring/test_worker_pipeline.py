"""The full rescore and the incremental path on real Celery workers through Redis (``scoring.pipeline``).

What the unit tests cannot show: chunks spread over worker processes; a chunk sent twice or a whole
second run changes nothing; a worker SIGKILLed in the middle of writing a chunk leaves nothing of it, and
the job still finishes (the broker redelivers the chunk, ``full_rescore_resume`` re-sends lost ones) with
the tables a clean run writes; events reach the learned account score through the outbox.

Needs PostgreSQL and Redis (``tests.workers``); skipped without them, except in CI (REQUIRE_WORKER=1).
"""

import datetime
import hashlib
import random
import time

import numpy as np
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from accounts.choices import Department, EventType, Seniority
from accounts.ingest import events_ingest
from accounts.models import Account, Contact
from config.celery import app as celery_app
from revops.choices import JobStatus
from scoring import pipeline
from scoring.choices import ScoringModelKind, ScoringModelStatus
from scoring.learned import features as F
from scoring.models import (
    AccountModelScore,
    AccountModelScoreHistory,
    AccountRuleScore,
    BuyingStageTransition,
    ContactScore,
    ContactScoreHistory,
    LifecycleTransition,
    ScoringModel,
)
from tests.revops.factories import UserFactory
from tests.scoring.factories import starter_policy, starter_ruleset
from tests.workers import unacked_count, wait_for

pytestmark = pytest.mark.worker

SCORES = (ContactScore, AccountRuleScore, AccountModelScore)
WRITES = (ContactScoreHistory, AccountModelScoreHistory, LifecycleTransition, BuyingStageTransition)
# Which table each phase writes, keyed by the id its chunks range over.
PHASE_TABLES = {
    "contacts": (Contact, ContactScore, "contact_id"),
    "accounts": (Account, AccountRuleScore, "account_id"),
    "account_models": (Account, AccountModelScore, "account_id"),
}


# --- the world ----------------------------------------------------------------------------------------------
def world_build(*, accounts: int, contacts_per_account: int, seed: int = 7) -> None:
    """Accounts of varied size and industry, their people, and a few weeks of events for some of them;
    the published starter ruleset and qualification policy. Written in bulk: no outbox rows."""
    rng = random.Random(seed)
    starter_ruleset()
    starter_policy()
    industries = ["Software", "Fintech", "Retail", "Health tech", "Manufacturing"]
    Account.objects.bulk_create(
        Account(
            name=f"Firm {i}",
            domain=f"firm{i}.test",
            industry=rng.choice(industries),
            employee_count=rng.choice([20, 150, 800, 4000, 20000]),
            country="US",
        )  # fmt: skip
        for i in range(accounts)
    )
    firms = list(Account.objects.order_by("id"))
    Contact.objects.bulk_create(
        Contact(
            account=firm,
            email=f"p{k}@{firm.domain}",
            first_name="P",
            last_name=str(k),
            seniority=rng.choice(Seniority.values),
            department=rng.choice(Department.values),
        )  # fmt: skip
        for firm in firms
        for k in range(contacts_per_account)
    )
    kinds = [
        (EventType.PAGE_VIEW, "/pricing"), (EventType.PAGE_VIEW, "/customers/case-study-1"),
        (EventType.PAGE_VIEW, "/blog/post"), (EventType.WEBINAR, ""), (EventType.CONTENT_DOWNLOAD, ""),
        (EventType.EMAIL_CLICK, ""), (EventType.DEMO_REQUEST, ""),
    ]  # fmt: skip
    now = timezone.now()
    items = []
    for firm in firms[: int(accounts * 0.6)]:  # the rest stay quiet
        for k in rng.sample(range(contacts_per_account), k=min(3, contacts_per_account)):
            for n in range(rng.randint(1, 6)):
                kind, url = rng.choice(kinds)
                items.append(
                    {
                        "message_id": f"{firm.domain}-{k}-{n}", "type": kind.value, "url": url,
                        "occurred_at": (now - datetime.timedelta(hours=rng.uniform(1, 24 * 50))).isoformat(),
                        "contact_email": f"p{k}@{firm.domain}",
                    }
                )  # fmt: skip
    actor = UserFactory()
    for start in range(0, len(items), 1000):
        events_ingest(actor=actor, items=items[start : start + 1000])


def champion_train() -> ScoringModel:
    """A tiny XGBoost booster on synthetic rows with the columns ``account_features`` returns (activity
    and high intent raise the odds), registered as the in-market champion with its bytes and checksum."""
    from xgboost import XGBClassifier

    frame = F.account_features(as_of=timezone.now().date())
    columns = list(frame.columns)
    rng = np.random.default_rng(0)
    rows = frame.iloc[rng.integers(0, len(frame), 2000)].reset_index(drop=True)
    rows = rows * rng.uniform(0.5, 1.5, size=rows.shape)
    signal = rows.get("all_30d", 0) + 3 * rows.get("high_intent_30d", 0) + 2 * rows.get("research_30d", 0)
    y = (signal + rng.normal(0, 1, len(rows)) > np.median(signal)).astype(int)
    model = XGBClassifier(n_estimators=15, max_depth=3, learning_rate=0.3, n_jobs=1, random_state=0)
    model.fit(rows[columns], y)
    data = bytes(model.get_booster().save_raw("json"))
    return ScoringModel.objects.create(
        kind=ScoringModelKind.IN_MARKET, version=1, status=ScoringModelStatus.CHAMPION, features=columns,
        params={"top_keys": frame.attrs.get("top_keys")}, metrics={"models": {}}, artefact=data,
        artefact_sha256=hashlib.sha256(data).hexdigest(), trained_at=timezone.now(),
        promoted_at=timezone.now(),
    )  # fmt: skip


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunk sizes for the plan. ``plan()`` runs where the job is scheduled (here) and stores every chunk's
    id range in the job, so the workers need no setting of their own."""

    def use(*, contacts: int, accounts: int, models: int) -> None:
        monkeypatch.setattr(pipeline, "CONTACT_CHUNK", contacts)
        monkeypatch.setattr(pipeline, "ACCOUNT_CHUNK", accounts)
        monkeypatch.setattr(pipeline, "MODEL_ACCOUNT_CHUNK", models)

    return use


# --- looking at the tables ----------------------------------------------------------------------------------
def _fields(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.attname != "id"]  # id: insertion order only


def snapshot() -> dict:
    """Every row of the score tables, the history and transition tables, and the contacts' stages."""
    tables = {
        model.__name__: sorted(model.objects.values_list(*_fields(model)), key=repr) for model in SCORES
    }
    tables.update(
        {model.__name__: sorted(model.objects.values_list(*_fields(model)), key=repr) for model in WRITES}
    )
    tables["stages"] = sorted(Contact.objects.values_list("id", "lifecycle_stage"))
    return tables


def written() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in WRITES}


def chunk_rows(params: dict) -> dict[str, list[tuple[int, int]]]:
    """Per phase and chunk: (rows written in its id range, rows it should write)."""
    out = {}
    for phase, chunks in params["phases"]:
        source, table, key = PHASE_TABLES[phase]
        out[phase] = [
            (
                table.objects.filter(**{f"{key}__gte": low, f"{key}__lt": high}).count(),
                source.objects.filter(id__gte=low, id__lt=high).count(),
            )
            for low, high in chunks
        ]
    return out


def derived_reset(stage: str) -> None:
    """Back to before any scoring: no scores, no history, every contact at ``stage``."""
    for model in (*SCORES, *WRITES):
        model.objects.all().delete()
    Contact.objects.update(lifecycle_stage=stage)


# --- the tests ----------------------------------------------------------------------------------------------
def test_a_full_rescore_spreads_over_two_workers_and_a_second_run_writes_nothing(
    celery_workers, small_chunks, settings
):
    settings.SCORING_INCREMENTAL = False  # the world is written in bulk; no outbox drains meanwhile
    workers = [celery_workers.start(name, wait=False) for name in ("w1", "w2")]  # start while we build
    world_build(accounts=300, contacts_per_account=10)
    champion_train()
    small_chunks(contacts=500, accounts=50, models=50)  # 6 chunks in each of the three phases
    celery_workers.wait_ready(*workers)

    started = time.monotonic()
    job = wait_for(pipeline.full_rescore_schedule(reason="test"), seconds=90)
    elapsed = time.monotonic() - started
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert [name for name, _chunks in job.params["phases"]] == ["contacts", "accounts", "account_models"]
    assert job.total == 18 and job.progress == job.total == len(job.result["done"])
    contacts, accounts = Contact.objects.count(), Account.objects.count()
    assert (contacts, accounts) == (3000, 300)
    assert ContactScore.objects.count() == contacts and ContactScoreHistory.objects.count() == contacts
    assert AccountRuleScore.objects.count() == accounts
    model = ScoringModel.objects.get()
    assert AccountModelScore.objects.filter(model=model).count() == accounts
    assert job.result["totals"]["contacts_written"] == contacts
    assert LifecycleTransition.objects.exists()  # the rules moved some contacts: real work was done
    assert AccountModelScore.objects.values("in_market").distinct().count() > 10

    # Both worker processes ran chunks.
    hosts = [w.hostname for w in workers]
    stats = celery_app.control.inspect(destination=hosts, timeout=2).stats() or {}
    ran = {
        host: stats.get(host, {}).get("total", {}).get("scoring.tasks.rescore_chunk_task", 0)
        for host in hosts
    }
    assert sum(ran.values()) == job.total and all(n > 0 for n in ran.values()), ran
    assert len({w.process.pid for w in workers}) == 2
    print(f"\nfull rescore of 3,000 contacts / 300 accounts in 18 chunks on 2 workers: {elapsed:.1f}s, {ran}")

    # A chunk of the finished job sent again (a redelivery, a resume racing the last chunk): skipped.
    before, counts = snapshot(), written()
    sent = pipeline.rescore_chunk_task.delay(job.pk, "contacts", 0)
    assert sent.get(timeout=30) == {"skipped": "contacts:0"}
    # The same chunks run again without the job's bookkeeping, with the job's versions and clock: each
    # rewrites nothing.
    for phase, chunks in job.params["phases"]:
        for index in range(len(chunks)):
            assert pipeline.chunk_run(job.params, phase, index)["written"] == 0, (phase, index)
    assert snapshot() == before and written() == counts

    # A whole second full rescore: scores everyone again, writes nothing.
    again = wait_for(pipeline.full_rescore_schedule(reason="again"), seconds=90)
    assert again.status == JobStatus.SUCCEEDED, again.message
    totals = again.result["totals"]
    assert totals["contacts_contacts"] == contacts and totals["account_models_accounts"] == accounts
    rewritten = [totals[f"{phase}_written"] for phase in ("contacts", "accounts", "account_models")]
    assert rewritten == [0, 0, 0]
    assert (totals["contacts_moved"], totals["account_models_moved"]) == (0, 0)
    assert snapshot() == before and written() == counts


def test_a_worker_killed_mid_chunk_leaves_nothing_half_written_and_the_job_finishes(
    celery_workers, small_chunks, settings
):
    settings.SCORING_INCREMENTAL = False
    first = celery_workers.start("doomed", wait=False)
    world_build(accounts=120, contacts_per_account=10, seed=11)
    stage = Contact._meta.get_field("lifecycle_stage").default  # where every contact starts
    champion_train()
    small_chunks(contacts=300, accounts=30, models=20)  # 4 + 4 + 6 chunks
    celery_workers.wait_ready(first)

    # Another session holds a lock the first learned-scores chunk needs half-way: that chunk has upserted
    # its account scores (in its open transaction) when it stops, waiting, at the history rows.
    lock = _table_lock(AccountModelScoreHistory)
    try:
        job = pipeline.full_rescore_schedule(reason="test")
        blocked = _waiting_on(lock.info.backend_pid)
        assert _holds_write_lock(blocked, AccountModelScore._meta.db_table)  # it wrote scores, uncommitted
        job.refresh_from_db()
        assert sorted(job.result["done"]) == [f"{p}:{i}" for p in ("accounts", "contacts") for i in range(4)]
        assert unacked_count() == 1  # the chunk in flight: taken, not acknowledged

        first.kill()
    finally:
        lock.close()  # the orphaned session goes on, finds its client gone, and rolls back
    _gone(blocked)

    # Nothing half-written: each chunk's rows are all there (finished chunks) or not at all.
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.finished_at is None
    rows = chunk_rows(job.params)
    for phase, chunks in rows.items():
        for index, (have, want) in enumerate(chunks):
            finished = f"{phase}:{index}" in job.result["done"]
            assert have == (want if finished else 0), (phase, index, have, want)
    assert AccountModelScore.objects.count() == AccountModelScoreHistory.objects.count() == 0
    assert BuyingStageTransition.objects.count() == 0

    # Redis still holds the killed worker's chunk; lose the queued ones as a broker restart would.
    celery_app.control.purge()
    # A fresh worker with a short visibility timeout gets the unacknowledged chunk back and runs it.
    celery_workers.start("fresh", CELERY_VISIBILITY_TIMEOUT="1")
    _until(
        lambda: "account_models:0" in (_reloaded(job).result or {}).get("done", {}), "the chunk redelivered"
    )
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.progress == 9  # the lost chunks are still missing
    # The resume (beat, every 5 minutes, once a job has made no progress for a while) re-sends them.
    assert pipeline.full_rescore_resume(stale_after=datetime.timedelta(0)) == [job.pk]
    job = wait_for(job, seconds=60)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.progress == job.total == len(job.result["done"]) == 14
    assert all(have == want for chunks in chunk_rows(job.params).values() for have, want in chunks)
    # The last chunk acknowledges after it has finished the job, and the finished rescore queues the segment
    # refresh and campaign measurement: every message is acknowledged once those are done too.
    _until(lambda: unacked_count() == 0, "every message acknowledged")

    # The same tables as a clean, uninterrupted run of the same plan (same versions, day and clock).
    resumed = snapshot()
    derived_reset(stage)
    for phase, chunks in job.params["phases"]:
        for index in range(len(chunks)):
            pipeline.chunk_run(job.params, phase, index)
    assert snapshot() == resumed


def test_events_reach_the_learned_account_score_through_the_outbox(celery_workers, settings):
    settings.SCORING_INCREMENTAL = False
    worker = celery_workers.start("w1", wait=False)
    world_build(accounts=20, contacts_per_account=5, seed=3)
    champion_train()
    pipeline.full_rescore_local()  # everyone scored once, here
    quiet = Account.objects.order_by("-id").first()  # the last 40% have no activity
    contact = quiet.contacts.order_by("id").first()
    before = AccountModelScore.objects.get(account=quiet)
    history = AccountModelScoreHistory.objects.filter(account=quiet).count()
    celery_workers.wait_ready(worker)

    settings.SCORING_INCREMENTAL = True
    from django.core.cache import cache

    from scoring.rescore import DRAIN_KEY

    cache.delete(DRAIN_KEY)  # a debounce mark left by another test would hold this drain back
    now = timezone.now()
    started = time.monotonic()
    events_ingest(
        actor=UserFactory(),
        items=[
            {"message_id": f"burst-{n}", "type": kind, "url": url, "contact_email": contact.email,
             "occurred_at": (now - datetime.timedelta(minutes=n)).isoformat()}
            for n, (kind, url) in enumerate([("page_view", "/pricing")] * 6 + [("demo_request", "")])
        ],
    )  # fmt: skip  # commits: the outbox row, then (after commit) a drain task for the worker
    _until(lambda: AccountModelScoreHistory.objects.filter(account=quiet).count() > history, "the drain", 20)
    elapsed = time.monotonic() - started
    after = AccountModelScore.objects.get(account=quiet)
    assert after.scored_at > before.scored_at and after.in_market > before.in_market
    assert ContactScore.objects.get(contact=contact).engagement > 0
    print(f"\nevents → learned account score through the outbox and a worker: {elapsed:.1f}s")
    assert elapsed < 15


# --- helpers ------------------------------------------------------------------------------------------------
def _reloaded(job):
    job.refresh_from_db()
    return job


def _until(condition, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {seconds}s")


def _table_lock(model) -> psycopg.Connection:
    """Another session holding a SHARE lock on ``model``'s table (writers wait) until it is closed."""
    database = connection.settings_dict
    lock = psycopg.connect(
        dbname=database["NAME"], user=database["USER"], host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
    )  # fmt: skip
    with lock.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {model._meta.db_table} IN SHARE MODE")
    return lock


def _waiting_on(lock_pid: int, seconds: float = 60) -> int:
    """The backend that ends up waiting for ``lock_pid``'s lock."""
    found: list[int] = []

    def check() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [lock_pid]
            )
            found[:] = [row[0] for row in cursor.fetchall()]
        return bool(found)

    _until(check, "a chunk waiting on the lock", seconds)
    return found[0]


def _holds_write_lock(pid: int, table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = %s AND c.relname = %s AND l.mode = 'RowExclusiveLock' AND l.granted",
            [pid, table],
        )
        return cursor.fetchone() is not None


def _gone(pid: int) -> None:
    def check() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            return cursor.fetchone() is None

    _until(check, f"backend {pid} ending", 30)


def test_a_chunk_whose_worker_is_killed_is_sent_again_by_its_stopped_heartbeat(
    celery_workers, small_chunks, settings
):
    """Fault test (issue 12, item 8): the worker running a chunk is SIGKILLed. Its message stays
    unacknowledged in Redis for the visibility timeout (an hour); the chunk's heartbeat stops, so the resume
    sweep — called here as beat calls it, with a short staleness — re-sends it, and the job finishes."""
    settings.SCORING_INCREMENTAL = False
    settings.SCORING_CHUNK_STALE_SECONDS = 4  # production: 60 s, the sweep every minute
    beat = {"SCORING_CHUNK_HEARTBEAT_SECONDS": "0.5"}  # production: 15 s
    doomed = celery_workers.start("doomed", wait=False, **beat)
    world_build(accounts=60, contacts_per_account=10, seed=13)
    small_chunks(contacts=200, accounts=30, models=30)  # 3 + 2 chunks, rules only
    celery_workers.wait_ready(doomed)

    lock = _table_lock(ContactScoreHistory)  # the first chunk stops, mid-transaction, at its history rows
    try:
        job = pipeline.full_rescore_schedule(reason="test", models=False)
        blocked = _waiting_on(lock.info.backend_pid)
        beats = set()

        def beating() -> bool:  # the chunk is marked running and its heartbeat moves
            mark = (_reloaded(job).result or {}).get("running", {}).get("contacts:0")
            beats.update([mark["at"]] if mark else [])
            return len(beats) >= 2

        _until(beating, "the running chunk's heartbeat")
        doomed.kill()
        killed = time.monotonic()
    finally:
        lock.close()
    _gone(blocked)
    assert unacked_count() == 1  # Redis keeps the killed chunk's message aside for an hour

    celery_workers.start("rescuer", **beat)  # runs the queued chunks; the lost one is not in the queue
    resent = None
    while resent is None and time.monotonic() - killed < 30:
        if pipeline.full_rescore_resume() == [job.pk]:  # beat: every minute
            resent = time.monotonic() - killed
        else:
            time.sleep(0.5)
    assert resent is not None, "the lost chunk was not re-sent"
    job = wait_for(job, seconds=30)
    done = time.monotonic() - killed
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.progress == job.total == 5 and not job.result.get("running")
    assert all(have == want for chunks in chunk_rows(job.params).values() for have, want in chunks)
    # Finished without waiting for the broker's redelivery: only the killed chunk's message is still aside,
    # once the tasks a finished rescore queues (segments, campaigns, plays) have been acknowledged too.
    _until(lambda: unacked_count() == 1, "only the killed chunk's message unacknowledged")
    print(f"\nkilled chunk re-sent {resent:.1f}s after the kill; job finished {done:.1f}s after it")
