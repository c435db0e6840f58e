"""The full rescore as phases of chunks: rules for contacts → rules for accounts → learned account scores
and learned contact scores. The same chunk functions run in this process (the ``rescore`` command, with
``--processes``) or as Celery tasks spread over every worker (the UI, the API, the nightly schedule).

A Celery job is one ``JobRun``: its ``params`` fix the versions and the day (every chunk scores with the
same ones), its ``result["done"]`` records finished chunks. Each chunk is one task and one transaction:

* run a chunk twice (a redelivered message) and the second run finds it done, or rewrites nothing —
  chunks write only changed rows;
* kill a worker mid-chunk and its transaction rolls back; with ``acks_late`` the broker redelivers the
  message, and ``full_rescore_resume`` (beat, every few minutes) re-sends the chunks of a job that has
  made no progress for a while — so a job always finishes, never half-written.

The last chunk of a phase (the one that sees every chunk of it done, under a row lock) sends the next
phase; the last chunk of the last phase finishes the job.
"""

import datetime
import json
import logging
import os
import threading
from collections.abc import Callable

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account, Contact
from revops.bulk import is_postgres
from revops.chunks import Failure, error_words, range_run_isolated
from revops.models import JobRun, JobStatus
from revops.services import job_run_create, job_run_create_once, job_run_finish, job_run_send, job_run_start
from scoring.choices import ScoringModelKind, ScoringModelStatus
from scoring.learned import predictions
from scoring.models import Ruleset, ScoringModel
from scoring.population import spec_for
from scoring.rescore import (
    ACCOUNT_CHUNK,
    CONTACT_CHUNK,
    NoPublishedRuleset,
    accounts_chunk_rescore,
    contacts_chunk_rescore,
    published,
    runner,
    today,
)
from scoring.signals import rescore_finished
from scoring.store import id_bounds

log = logging.getLogger(__name__)

KIND = "rescore"
MODEL_ACCOUNT_CHUNK = getattr(settings, "SCORING_MODEL_ACCOUNT_CHUNK", 25_000)
STALE_AFTER = datetime.timedelta(minutes=getattr(settings, "SCORING_JOB_STALE_MINUTES", 10))


def _ranges(model, size: int) -> list[list[int]]:
    low, high = id_bounds(model)
    return [[lo, lo + size] for lo in range(low, high + 1, size)] if high >= low else []


def plan(
    *, models: bool = True, rules: bool = True, as_of: datetime.date | None = None,
    now: datetime.datetime | None = None,
) -> dict:  # fmt: skip
    """The versions, the day and the chunks of a full rescore, as JSON-able job parameters. ``now`` is
    when the scores say they were made (default: now; a backfill dates them in the past)."""
    moment = (now or timezone.now()).isoformat()
    params: dict = {"as_of": (as_of or today()).isoformat(), "now": moment, "phases": []}
    if rules:
        params["ruleset_id"] = published().pk
        params["phases"] += [
            ["contacts", _ranges(Contact, CONTACT_CHUNK)],
            ["accounts", _ranges(Account, ACCOUNT_CHUNK)],
        ]
    if models:
        try:
            scorer = predictions.Scorer.current()
        except predictions.NothingToScore as exc:
            params["models_skipped"] = str(exc)
        else:
            params["scorer"] = scorer.ids()
            params["phases"].append(["account_models", _ranges(Account, MODEL_ACCOUNT_CHUNK)])
        persona = ScoringModel.objects.filter(
            kind=ScoringModelKind.PERSONA_FIT, status=ScoringModelStatus.CHAMPION
        ).first()
        if persona is not None:
            params["persona_model_id"] = persona.pk
            params["phases"].append(["contact_models", _ranges(Contact, CONTACT_CHUNK)])
    return params


def chunk_run(params: dict, phase: str, index: int) -> dict:
    """Run one chunk of a plan; returns small JSON-able statistics. A row that fails is found and parked
    (``revops.chunks``): the chunk's other rows are scored, and ``failed`` lists each parked row with
    its name and the reason in words."""
    low, high = next(chunks for name, chunks in params["phases"] if name == phase)[index]
    done = range_run_isolated(lambda lo, hi: range_run(params, phase, lo, hi), low, high)
    stats: dict = {}
    for part in done.results:
        for name, value in part.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and name != "model":
                stats[name] = stats.get(name, 0) + value
            else:
                stats.setdefault(name, value)
    if done.failures:
        stats["failed"] = failures_describe(phase, done.failures)
        log.warning("rescore chunk %s:%s parked %s row(s): %s", phase, index, len(done.failures),
                    stats["failed"])  # fmt: skip
    return stats


PHASE_ROWS = {"contacts": Contact, "contact_models": Contact, "accounts": Account, "account_models": Account}


def failures_describe(phase: str, failures: list[Failure]) -> list[dict]:
    """Parked rows as the job shows them: which (kind, id, name), in which phase, and why, in words."""
    model = PHASE_ROWS[phase]
    ids = [f.low for f in failures if f.high - f.low == 1]
    label = "email" if model is Contact else "name"
    names = dict(model.objects.filter(pk__in=ids).values_list("pk", label))
    out = []
    for failure in failures:
        single = failure.high - failure.low == 1
        out.append({
            "phase": phase,
            "kind": model._meta.model_name,
            "id": failure.low if single else None,
            "ids": None if single else [failure.low, failure.high - 1],
            "name": names.get(failure.low, "") if single else "",
            "reason": error_words(failure.error),
        })  # fmt: skip
    return out


def range_run(params: dict, phase: str, low: int, high: int) -> dict:
    """One phase's work on the ids ``low`` … ``high - 1``, in one transaction."""
    as_of = datetime.date.fromisoformat(params["as_of"])
    now = datetime.datetime.fromisoformat(params["now"])
    if phase in ("contacts", "accounts"):
        spec = spec_for(Ruleset.objects.get(pk=params["ruleset_id"]))
        if phase == "contacts":
            stats = contacts_chunk_rescore(spec=spec, as_of=as_of, low=low, high=high, now=now)
            stats.pop("scores", None)
            return stats
        return accounts_chunk_rescore(spec=spec, as_of=as_of, low=low, high=high, now=now)
    if phase == "account_models":
        scorer = predictions.Scorer.of(**params["scorer"])
        return predictions.accounts_chunk_score(scorer=scorer, ids=range(low, high), as_of=as_of, now=now)
    if phase == "contact_models":
        model = ScoringModel.objects.defer("metrics").get(pk=params["persona_model_id"])
        from scoring.learned.lookalike import (
            contacts_chunk_score,  # scikit-learn: loaded by workers, not web pages
        )

        stats = contacts_chunk_score(low=low, high=high, as_of=as_of, now=now, model=model)
        return {k: v for k, v in stats.items() if isinstance(v, int | float | str)}
    raise ValueError(f"unknown phase {phase!r}")


def _total(params: dict) -> int:
    return sum(len(chunks) for _name, chunks in params["phases"])


def _totals(done: dict) -> dict:
    out: dict[str, float] = {}
    for key, stats in done.items():
        phase = key.split(":")[0]
        for name, value in stats.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"{phase}_{name}"] = out.get(f"{phase}_{name}", 0) + value
    return out


# The headline figures under the same names as the rules-only rescore (``rescore.rescore_all``) reports them.
_SUMMARY = {
    "contacts": "contacts_contacts",
    "contacts_written": "contacts_written",
    "moved": "contacts_moved",
    "meets_mql_definition": "contacts_meets_mql_definition",
    "accounts": "accounts_accounts",
    "accounts_written": "accounts_written",
    "qualified": "account_models_qualified",
}


def _summary(totals: dict) -> dict:
    return {name: int(totals[key]) for name, key in _SUMMARY.items() if key in totals}


def _failed(done: dict) -> list[dict]:
    """Every row the chunks parked, in chunk order."""
    return [row for key in sorted(done) for row in done[key].get("failed", [])]


def failed_words(failed: list[dict]) -> str:
    """ "2 rows could not be scored: account “Acme” (#6): <reason>; …" (the first three)."""
    if not failed:
        return ""
    shown = []
    for row in failed[:3]:
        what = (
            f"{row['kind']} “{row['name']}” (#{row['id']})"
            if row["id"]
            else f"{row['kind']}s #{row['ids'][0]}–{row['ids'][1]}"
        )
        shown.append(f"{what}: {row['reason']}")
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    return (
        f"{len(failed)} row{'s' if len(failed) != 1 else ''} could not be scored: " + "; ".join(shown) + more
    )


# --- in this process (the command) --------------------------------------------------------------------------
def full_rescore_local(
    *, models: bool = True, rules: bool = True, as_of: datetime.date | None = None, processes: int = 1,
    progress: Callable[[int, int], None] | None = None, now: datetime.datetime | None = None,
) -> dict:  # fmt: skip
    """The phases, here (chunks over ``processes`` local processes on PostgreSQL)."""
    params = plan(models=models, rules=rules, as_of=as_of, now=now)
    total, done = _total(params), {}
    with runner(processes if is_postgres() else 1) as run:  # one pool for every phase
        for phase, chunks in params["phases"]:
            jobs = [dict(params=params, phase=phase, index=i) for i in range(len(chunks))]
            for k, stats in enumerate(run(_chunk_call, jobs)):
                done[f"{phase}:{k}"] = stats
                if progress:
                    progress(len(done), total)
    out = _totals(done)
    out.update(as_of=params["as_of"], chunks=total)
    failed = _failed(done)
    if failed:
        out["failed"] = failed
    if "models_skipped" in params:
        out["models_skipped"] = params["models_skipped"]
    if params["as_of"] == today().isoformat():  # not each past month end of a backfill
        rescore_finished.send(sender=full_rescore_local, as_of=params["as_of"])
    return out


def _chunk_call(params, phase, index):
    return chunk_run(params, phase, index)


# --- across workers (Celery) --------------------------------------------------------------------------------
def full_rescore_schedule(*, user=None, reason: str = "", models: bool = True) -> JobRun:
    """Start a full rescore as chunk tasks over the workers; progress on the returned ``JobRun``."""
    try:
        params = plan(models=models)
    except NoPublishedRuleset as exc:
        job = job_run_create(kind=KIND, actor=user, params={"reason": reason})
        job_run_finish(job=job, ok=False, message=str(exc))
        return job
    params["reason"] = reason
    job, created = job_run_create_once(kind=KIND, scope=scope_of(params), actor=user, params=params,
                                       total=_total(params))  # fmt: skip
    job.existing = not created  # the views answer "already running" (409) with it
    if created:
        job_run_send(job=job, send=_phase_send, args=(job.pk, 0), name=f"rescore-{job.pk}")
    return job


def scope_of(params: dict) -> str:
    """What makes two full rescores the same work: the versions and the day they score with (a rescore
    asked for after a new version is published is new work; asked for again, it is the running one)."""
    keys = ("ruleset_id", "scorer", "persona_model_id", "as_of", "models_skipped")
    return json.dumps({k: params.get(k) for k in keys}, sort_keys=True, separators=(",", ":"))


def _phase_send(job_id: int, number: int, only_missing: bool = False) -> None:
    job = JobRun.objects.get(pk=job_id)
    if job.started_at is None:
        job_run_start(job=job)
    phases = job.params["phases"]
    while number < len(phases) and not phases[number][1]:
        number += 1  # nothing to do in an empty phase
    if number >= len(phases):
        _finish(job_id)
        return
    name, chunks = phases[number]
    done = (job.result or {}).get("done", {})
    for index in range(len(chunks)):
        if only_missing and f"{name}:{index}" in done:
            continue
        rescore_chunk_task.delay(job_id, name, index)


def _finish(job_id: int) -> None:
    job = JobRun.objects.get(pk=job_id)
    if job.finished_at is not None:
        return
    totals = _totals((job.result or {}).get("done", {}))
    summary = _summary(totals)
    message = f"{summary.get('contacts', 0):,} contacts and {summary.get('accounts', 0):,} accounts rescored"
    if "account_models_accounts" in totals:
        message += f"; {summary.get('qualified', 0):,} accounts qualified"
    failed = _failed((job.result or {}).get("done", {}))
    if failed:
        message += f". {failed_words(failed)}"
    result = {**(job.result or {}), **summary, "totals": totals, "failed": failed}
    job_run_finish(job=job, ok=True, message=message, result=result)
    rescore_finished.send(sender=_finish, as_of=(job.params or {}).get("as_of"))


@shared_task(name="scoring.tasks.rescore_chunk_task", acks_late=True, reject_on_worker_lost=True)
def rescore_chunk_task(job_id: int, phase: str, index: int) -> dict:
    job = JobRun.objects.get(pk=job_id)
    key = f"{phase}:{index}"
    if job.finished_at is not None:
        return {"skipped": key}
    if key in (job.result or {}).get("done", {}):
        # A redelivered chunk that is done. Its worker may have died before sending the next phase:
        # send that phase's missing chunks again (chunks that run twice find themselves done).
        _next_phase_ensure(job, phase)
        return {"skipped": key}
    _running_mark(job_id, key, _worker_name())
    request = rescore_chunk_task.request
    beat = None if request.is_eager or request.called_directly else _Heartbeat(job_id, key)
    try:
        stats = chunk_run(job.params, phase, index)
    except Exception as exc:
        log.exception("rescore job %s chunk %s failed", job_id, key)
        _running_mark(job_id, key, None)
        job_run_finish(job=JobRun.objects.get(pk=job_id), ok=False,
                       message=f"chunk {key}: {type(exc).__name__}: {exc}")  # fmt: skip
        raise
    finally:
        if beat is not None:
            beat.stop()
    names = [name for name, _chunks in job.params["phases"]]
    with transaction.atomic():
        job = JobRun.objects.select_for_update().get(pk=job_id)
        result = job.result or {}
        done = result.setdefault("done", {})
        result.get("running", {}).pop(key, None)
        if key in done or job.finished_at is not None:
            job.result = result
            job.save(update_fields=["result", "updated"])
            return {"skipped": key}
        done[key] = stats
        job.result, job.progress = result, len(done)
        job.message = f"{phase}: chunk {index + 1} done ({len(done)}/{job.total})"
        job.save(update_fields=["result", "progress", "message", "updated"])
        chunks = job.params["phases"][names.index(phase)][1]
        phase_done = all(f"{phase}:{i}" in done for i in range(len(chunks)))
    if phase_done:
        transaction.on_commit(lambda: _phase_send(job_id, names.index(phase) + 1))
    return stats


def _next_phase_ensure(job: JobRun, phase: str) -> None:
    names = [name for name, _chunks in job.params["phases"]]
    done = (job.result or {}).get("done", {})
    number = names.index(phase)
    if all(f"{phase}:{i}" in done for i in range(len(job.params["phases"][number][1]))):
        _phase_send(job.pk, number + 1, only_missing=True)


# --- heartbeats: a chunk whose worker died is found within a couple of minutes -----------------------------
def _heartbeat_seconds() -> float:
    return float(getattr(settings, "SCORING_CHUNK_HEARTBEAT_SECONDS", 15))


def _chunk_stale_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=float(getattr(settings, "SCORING_CHUNK_STALE_SECONDS", 60)))


def _worker_name() -> str:
    return f"{rescore_chunk_task.request.hostname or 'local'}:{os.getpid()}"


def _running_mark(job_id: int, key: str, worker: str | None) -> None:
    """Record (``worker``) or clear (None) that a chunk runs now, with the time: its heartbeat. Its own
    short transaction, outside the chunk's, so it shows at once and rolls back with nothing."""
    with transaction.atomic():
        job = JobRun.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.finished_at is not None:
            return
        result = job.result or {}
        running = result.setdefault("running", {})
        if worker is None:
            running.pop(key, None)
        else:
            running[key] = {"at": timezone.now().isoformat(), "by": worker}
        job.result = result
        job.save(update_fields=["result", "updated"])


class _Heartbeat:
    """While a chunk runs on a worker, a thread renews its heartbeat (``SCORING_CHUNK_HEARTBEAT_SECONDS``).
    A worker that is killed stops beating; ``full_rescore_resume`` re-sends its chunk once the beat is
    older than ``SCORING_CHUNK_STALE_SECONDS``. (Not in the embedded mode: chunks run in the request.)"""

    def __init__(self, job_id: int, key: str):
        self.job_id, self.key, self.worker = job_id, key, _worker_name()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}-{key}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stopped.wait(_heartbeat_seconds()):
                try:
                    _running_mark(self.job_id, self.key, self.worker)
                except Exception:  # a missed beat only makes the chunk look lost sooner: never fatal
                    log.warning("heartbeat of %s:%s failed", self.job_id, self.key, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)


def full_rescore_resume(
    *, stale_after: datetime.timedelta = STALE_AFTER, chunk_stale_after: datetime.timedelta | None = None
) -> list[int]:
    """Re-send the chunks of running rescore jobs that are lost: at once, a chunk whose heartbeat is older
    than ``chunk_stale_after`` (its worker died mid-chunk); and when a job has made no progress at all for
    ``stale_after``, every missing chunk (messages lost before any worker took them)."""
    now = timezone.now()
    cutoff, beat_cutoff = now - stale_after, now - (chunk_stale_after or _chunk_stale_after())
    resumed = []
    for job in JobRun.objects.filter(kind=KIND, status=JobStatus.RUNNING, finished_at__isnull=True):
        if "phases" not in (job.params or {}):
            continue
        if _lost_chunks_resend(job, beat_cutoff):
            resumed.append(job.pk)
            continue
        if job.updated > cutoff:
            continue
        done = (job.result or {}).get("done", {})
        for number, (name, chunks) in enumerate(job.params["phases"]):
            if not all(f"{name}:{i}" in done for i in range(len(chunks))):
                JobRun.objects.filter(pk=job.pk).update(updated=timezone.now())
                _phase_send(job.pk, number, only_missing=True)
                resumed.append(job.pk)
                break
        else:
            _finish(job.pk)
            resumed.append(job.pk)
    return resumed


def _lost_chunks_resend(job: JobRun, beat_cutoff: datetime.datetime) -> bool:
    """Re-send the chunks whose heartbeat stopped before ``beat_cutoff``; their mark is cleared, so a resent
    chunk still waiting in the queue is not sent again by the next sweep."""
    lost = []
    with transaction.atomic():
        job = JobRun.objects.select_for_update().get(pk=job.pk)
        result = job.result or {}
        running, done = result.get("running", {}), result.get("done", {})
        for key, beat in list(running.items()):
            if key in done or datetime.datetime.fromisoformat(beat["at"]) < beat_cutoff:
                running.pop(key)
                if key not in done:
                    lost.append(key)
        if not lost:
            return False
        job.result = result
        job.save(update_fields=["result", "updated"])
    for key in lost:
        phase, index = key.rsplit(":", 1)
        log.warning("rescore job %s: chunk %s lost its worker (no heartbeat); sending it again", job.pk, key)
        rescore_chunk_task.delay(job.pk, phase, int(index))
    return True


@shared_task(name="scoring.tasks.full_rescore_resume_task")
def full_rescore_resume_task() -> list[int]:
    return full_rescore_resume()


@shared_task(name="scoring.tasks.full_rescore_task")
def full_rescore_task() -> int:
    """The scheduled (beat) full rescore."""
    return full_rescore_schedule(reason="scheduled").pk
