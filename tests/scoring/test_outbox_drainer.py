"""Without a broker (the embedded mode: Celery eager) the scoring outbox drains in a thread of the web
process, a moment after the requests that asked for it, one drain for many of them: the request answers
without scoring, the scores follow. The rest of the suite drains in the request (``SCORING_DRAIN_INLINE``,
tests/conftest.py); these tests turn it off.

The last test serves the app for real (``runserver``, as ``make demo`` does, with the embedded settings:
a file SQLite in WAL mode, or PostgreSQL without Redis) and posts batches from several clients at once
while the drainer writes scores: every request succeeds (no "database is locked") and every contact the
events named is scored."""

import datetime
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Contact, EngagementEvent
from revops import services
from scoring import rescore
from scoring.models import ContactScore, ScoringOutbox
from tests.accounts.factories import ContactFactory
from tests.scoring.factories import starter_ruleset

ROOT = Path(__file__).resolve().parents[2]
URL = "/api/events/batch/"


def _events(tag: str, emails: list[str], n: int) -> list[dict]:
    when = (timezone.now() - datetime.timedelta(hours=1)).isoformat()  # within the rules' windows
    return [
        {"message_id": f"{tag}-{k}", "type": "page_view", "occurred_at": when,
         "contact_email": emails[k % len(emails)], "url": "https://acme.com/pricing"}
        for k in range(n)
    ]  # fmt: skip


def _feed(user) -> tuple[APIClient, str]:
    _token, key = services.api_token_create(actor=None, user=user, name="feed", scopes=["ingest"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, key


@pytest.fixture
def embedded_drain(settings):
    settings.SCORING_DRAIN_INLINE = False
    settings.SCORING_DRAIN_DEBOUNCE_SECONDS = 0.05
    yield
    if connection.vendor == "postgresql":  # the idle drainer closes its session: the test database can go
        named = (  # this database only: another xdist worker's server may be draining its own
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()"
        )

        def closed() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(named, [rescore.DRAIN_THREAD])
                return cursor.fetchone()[0] == 0

        assert _wait(closed, 30)


@pytest.mark.django_db
def test_the_request_only_asks_for_a_drain_and_the_drain_scores_it(
    embedded_drain, member, monkeypatch, django_capture_on_commit_callbacks
):
    starter_ruleset()
    contact = ContactFactory(email="ada@acme.com")
    asked = []
    monkeypatch.setattr(
        rescore,
        "debounced_run",
        lambda run, *, name, delay, max_delay: asked.append((run, name, delay, max_delay)),
    )
    feed, _key = _feed(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = feed.post(URL, {"events": _events("a", [contact.email], 3)}, format="json")
    assert response.status_code == 200 and response.json()["created"] == 3
    assert asked == [(rescore.outbox_drain_here, "scoring-drain", 0.05, rescore.DRAIN_DEBOUNCE_MAX)]
    assert rescore.outbox_pending().exists()  # answered before scoring
    assert not ContactScore.objects.filter(contact=contact).exists()

    assert rescore.outbox_drain_here() >= 1  # what the drainer thread runs
    assert not rescore.outbox_pending().exists()
    assert ContactScore.objects.get(contact=contact).engagement > 0


def _wait(condition, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.django_db(transaction=True)  # real commits: the drainer thread reads them
def test_the_drainer_thread_scores_what_the_requests_wrote(embedded_drain, member):
    starter_ruleset()
    contacts = [ContactFactory(email=f"c{n}@acme.com") for n in range(3)]
    ScoringOutbox.objects.all().delete()  # the factories' own rows: this test counts the events' rows
    feed, _key = _feed(member)
    for batch in range(3):
        response = feed.post(
            URL, {"events": _events(f"b{batch}", [c.email for c in contacts], 5)}, format="json"
        )
        assert response.status_code == 200
    assert _wait(lambda: not rescore.outbox_pending().exists())
    assert ContactScore.objects.filter(contact__in=contacts).count() == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_on_a_real_embedded_server_all_succeed_and_are_scored(member, tmp_path):
    starter_ruleset()
    known = [ContactFactory(email=f"known{n}@acme{n % 4}.com").email for n in range(20)]
    _feed_client, key = _feed(member)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_XDIST_WORKER")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", REDIS_URL="", CELERY_TASK_ALWAYS_EAGER="true",
        SCORING_DRAIN_INLINE="false", JOBS_RUN_INLINE="false",
    )  # fmt: skip
    if connection.vendor == "sqlite":  # the test database (in memory) copied to a file, as make demo has it
        path = tmp_path / "embedded.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(path) as copy:
            connection.connection.backup(copy)
        env["SQLITE_PATH"] = str(path)

        def count(sql: str) -> int:
            with sqlite3.connect(path, timeout=30) as db:
                return db.execute(sql).fetchone()[0]

    else:
        db = connection.settings_dict
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"

        def count(sql: str) -> int:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchone()[0]

    port = _free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        assert _wait(lambda: _answers(port), 120), log.read_text()[-3000:]
        statuses, lock = [], threading.Lock()

        def client(n: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for batch in range(4):
                # known contacts (their scores change) and new ones (created, then scored)
                emails = known + [f"new{n}-{batch}-{k}@acme{k % 4}.com" for k in range(10)]
                body = json.dumps({"events": _events(f"c{n}-{batch}", emails, 60)})
                conn.request(
                    "POST", URL, body, {"Content-Type": "application/json", "Authorization": f"Token {key}"}
                )
                response = conn.getresponse()
                text = response.read().decode(errors="replace")
                with lock:
                    statuses.append((response.status, text[:300]))
            conn.close()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        assert [s for s, _ in statuses] == [200] * 24, statuses

        outbox, scores = ScoringOutbox._meta.db_table, ContactScore._meta.db_table
        events, contacts = EngagementEvent._meta.db_table, Contact._meta.db_table
        pending = f"SELECT count(*) FROM {outbox} WHERE processed_at IS NULL"
        assert _wait(lambda: count(pending) == 0, 180), log.read_text()[-3000:]
        assert count(f"SELECT count(*) FROM {events}") == 6 * 4 * 60
        unscored = (
            f"SELECT count(*) FROM {contacts} c"
            f" WHERE EXISTS (SELECT 1 FROM {events} e WHERE e.contact_id = c.id)"
            f" AND NOT EXISTS (SELECT 1 FROM {scores} s WHERE s.contact_id = c.id)"
        )
        assert count(unscored) == 0
        assert count(f"SELECT count(*) FROM {contacts}") == 20 + 6 * 4 * 10
    finally:
        server.terminate()
        server.wait(30)
    text = log.read_text()
    assert "database is locked" not in text and "Traceback" not in text, text[-3000:]


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/login/")
        ok = conn.getresponse().status < 500
        conn.close()
        return ok
    except OSError:
        return False


@pytest.mark.django_db
def test_the_embedded_drain_takes_the_rows_written_before_it_and_leaves_later_ones_for_the_next(
    settings, monkeypatch
):
    settings.SCORING_INCREMENTAL = False  # the factories' saves queue nothing: the rows are made here
    starter_ruleset()
    early, late = ContactFactory(), ContactFactory()
    first = ScoringOutbox.objects.create(contact_ids=[early.pk])
    real, arrived = rescore.rescore_contacts, []

    def a_request_writes_meanwhile(*, contact_ids=(), account_ids=(), **kwargs):
        if not arrived:  # a request commits its row while the drain runs
            arrived.append(ScoringOutbox.objects.create(contact_ids=[late.pk]))
        return real(contact_ids=contact_ids, account_ids=account_ids, **kwargs)

    monkeypatch.setattr(rescore, "rescore_contacts", a_request_writes_meanwhile)
    assert rescore.outbox_drain_here() == 1  # this drain: the row there when it started
    first.refresh_from_db()
    assert first.processed_at is not None
    assert list(rescore.outbox_pending()) == arrived  # the next run's (its request asked for one)
    assert rescore.outbox_drain_here() == 1
    assert not rescore.outbox_pending().exists()
    assert set(ContactScore.objects.values_list("contact_id", flat=True)) == {early.pk, late.pk}
    assert rescore.outbox_drain_here() == 0  # nothing pending: nothing to do


@pytest.mark.django_db
def test_one_embedded_drainer_at_a_time_the_other_asks_again(settings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the drainers of several web processes meet on PostgreSQL")
    settings.SCORING_INCREMENTAL = False
    starter_ruleset()
    contact = ContactFactory()
    ScoringOutbox.objects.create(contact_ids=[contact.pk])
    asked = []
    monkeypatch.setattr(rescore, "debounced_run", lambda run, **kwargs: asked.append(run))
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [rescore.DRAIN_LOCK])  # another process drains
        assert rescore.outbox_drain_here() == 0
        assert asked == [rescore.outbox_drain_here]  # its own run again, after the wait
        assert rescore.outbox_pending().exists()
        other.execute("SELECT pg_advisory_unlock(%s)", [rescore.DRAIN_LOCK])
    assert rescore.outbox_drain_here() == 1
    assert ContactScore.objects.filter(contact=contact).exists()
