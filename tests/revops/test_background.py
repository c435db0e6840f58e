"""``revops.background.job_send``: with a broker a job goes to the workers; in the embedded mode (eager
tasks) it runs in a background thread of the web process, so the request returns; in tests, inline."""

import threading

import pytest

from config.celery import app
from revops import background


@pytest.fixture
def recorded():
    calls, done = [], threading.Event()

    def send(*args):
        calls.append((threading.current_thread().name, args))
        done.set()

    return calls, done, send


def test_embedded_mode_runs_the_job_in_a_background_thread(settings, recorded):
    calls, done, send = recorded
    settings.JOBS_RUN_INLINE = False
    background.job_send(send, 7, "x", name="train-7")
    assert done.wait(5)
    assert calls == [("train-7", (7, "x"))]


def test_with_a_broker_or_inline_the_job_is_sent_from_this_thread(settings, recorded):
    calls, _, send = recorded
    settings.JOBS_RUN_INLINE = True
    background.job_send(send, 1, name="train-1")
    settings.JOBS_RUN_INLINE = False
    app.conf.task_always_eager = False  # a broker: .delay only enqueues (conftest restores it)
    background.job_send(send, 2, name="train-2")
    here = threading.current_thread().name
    assert calls == [(here, (1,)), (here, (2,))]


def test_a_failing_job_in_the_thread_is_logged_not_raised(settings, caplog):
    settings.JOBS_RUN_INLINE = False
    finished = threading.Event()

    def send():
        try:
            raise RuntimeError("boom")
        finally:
            finished.set()

    background.job_send(send, name="backtest-3")
    assert finished.wait(5)
    for _ in range(50):  # the log line follows the raise
        if any("backtest-3" in r.getMessage() for r in caplog.records):
            break
        threading.Event().wait(0.05)
    assert any("background job backtest-3 failed" in r.getMessage() for r in caplog.records)
