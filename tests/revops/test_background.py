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


def test_debounced_runs_once_for_a_burst_and_again_for_what_came_during_a_run():
    runs, started, gate, second = [], threading.Event(), threading.Event(), threading.Event()

    def run():
        runs.append(threading.current_thread().name)
        if len(runs) == 1:
            started.set()
            assert gate.wait(10)
        else:
            second.set()

    name = "test-debounce-a"
    background.debounced_run(run, name=name, delay=0.05)
    assert started.wait(10)
    for _ in range(5):  # while the first run runs: one more run, for all of them
        background.debounced_run(run, name=name, delay=0.05)
    gate.set()
    assert second.wait(10)
    debounced = background._debounced[name]
    for _ in range(100):  # the thread goes back to waiting
        if not debounced.wanted.is_set():
            break
        threading.Event().wait(0.05)
    assert runs == [name, name] and not debounced.wanted.is_set()
    assert debounced.thread.is_alive()  # one thread per name and process, waiting for the next call


def test_a_failing_debounced_run_is_logged_and_the_next_call_runs_again(caplog):
    calls, again = [], threading.Event()

    def run():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        again.set()

    background.debounced_run(run, name="test-debounce-b", delay=0.01)
    for _ in range(200):
        if any("background run test-debounce-b failed" in r.getMessage() for r in caplog.records):
            break
        threading.Event().wait(0.05)
    assert any("background run test-debounce-b failed" in r.getMessage() for r in caplog.records)
    background.debounced_run(run, name="test-debounce-b", delay=0.01)
    assert again.wait(10) and len(calls) == 2


def test_the_debounce_wait_doubles_while_calls_come_during_runs_and_resets_after_a_quiet_run(monkeypatch):
    monkeypatch.setattr(background, "close_old_connections", lambda: None)  # no database here
    busy = [True, True, True, True, False, True]

    def run():  # a request asks again while this run runs, as long as busy says so
        if busy.pop(0):
            debounced.wanted.set()

    debounced = background._Debounced(run, "test-debounce-c", delay=0.001, max_delay=0.005)
    waits = []
    for _ in range(6):
        debounced._run_once()
        waits.append(debounced.wait)
    assert waits == [0.002, 0.004, 0.005, 0.005, 0.001, 0.002]  # bounded; back to the first wait


def test_without_a_bound_the_debounce_wait_stays_fixed(monkeypatch):
    monkeypatch.setattr(background, "close_old_connections", lambda: None)
    debounced = background._Debounced(lambda: debounced.wanted.set(), "test-debounce-d", delay=0.001)
    debounced._run_once()
    debounced._run_once()
    assert debounced.wait == 0.001
