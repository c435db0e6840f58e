"""Logs (issue 17): one line per request and per Celery task, JSON in production, words in development;
a token by its id, never its key."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from config.celery import app as celery_app
from revops import services
from revops.logs import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines():
    """``json_lines()`` → the lines logged so far by revops.request and revops.task, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("revops.request", "revops.task")]
    for logger in loggers:
        logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.mark.django_db
def test_a_request_is_one_json_line_with_its_user_and_request_id(client, viewer, json_lines):
    client.force_login(viewer)
    response = client.get("/accounts/?q=secret-search", HTTP_X_REQUEST_ID="req-42-abc")
    assert response["X-Request-ID"] == "req-42-abc"
    [line] = json_lines()
    assert line["logger"] == "revops.request" and line["level"] == "INFO"
    assert line["method"] == "GET" and line["path"] == "/accounts/" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == "req-42-abc"
    assert line["user_id"] == viewer.pk and line["username"] == viewer.username
    assert "token_id" not in line and "secret-search" not in json.dumps(line)
    assert line["time"].endswith("+00:00")


@pytest.mark.django_db
def test_an_api_request_names_its_token_by_id_never_by_key(member, json_lines):
    token, key = services.api_token_create(actor=None, user=member, name="feed", scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/accounts/").status_code == 200
    [line] = json_lines()
    assert line["token_id"] == token.pk and line["user_id"] == member.pk
    assert key not in json.dumps(line) and key[4:20] not in json.dumps(line)


@pytest.mark.django_db
def test_an_unfit_request_id_is_replaced_and_anonymous_requests_are_logged_too(client, json_lines):
    response = client.get("/accounts/", HTTP_X_REQUEST_ID="bad id\n<script>")
    generated = response["X-Request-ID"]
    assert len(generated) == 32 and generated.isalnum()
    [line] = json_lines()
    assert line["status"] == 302 and line["request_id"] == generated  # to the sign-in page
    assert "user_id" not in line and "token_id" not in line


def test_probes_are_not_logged(client, json_lines):
    client.get("/healthz")
    assert json_lines() == []


@celery_app.task(name="tests.revops.failing_task")
def failing_task() -> None:
    raise ValueError("it broke")


@celery_app.task(name="tests.revops.adding_task")
def adding_task(a: int, b: int) -> int:
    return a + b


def test_a_celery_task_is_one_line_with_its_name_id_duration_and_outcome(json_lines):
    result = adding_task.delay(2, 3)
    assert result.get() == 5
    [line] = json_lines()
    assert line["logger"] == "revops.task" and line["level"] == "INFO"
    assert line["task"] == "tests.revops.adding_task" and line["task_id"] == result.id
    assert line["outcome"] == "success" and line["duration_ms"] >= 0

    failures = REGISTRY.get_sample_value("revops_task_failures_total", {"task": failing_task.name}) or 0
    with pytest.raises(ValueError):
        failing_task.delay()
    assert (
        REGISTRY.get_sample_value("revops_task_failures_total", {"task": failing_task.name}) == failures + 1
    )
    failed = json_lines()[-1]
    assert failed["task"] == "tests.revops.failing_task" and failed["outcome"] == "failure"
    assert failed["level"] == "ERROR"


def test_the_formatter_carries_exceptions_and_the_extra_fields():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    record.job_id = 7
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed here" and line["job_id"] == 7
    assert "RuntimeError: boom" in line["exc_info"]


def _served(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """A request served in a fresh process configured by ``env``: what it printed."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    base.pop("LOG_FORMAT", None)
    script = (
        "import django; django.setup(); from django.test import Client; "
        "Client(HTTP_HOST='revops.example.com').get('/login/', HTTP_X_REQUEST_ID='fresh-1')"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", "SQLITE_PATH": str(tmp_path / "db"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_logs_json_and_development_words(tmp_path):
    production = {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "k3y-" + "Zq8!vN2#rT6@wY1$" * 4,
        "DJANGO_ALLOWED_HOSTS": "revops.example.com",
    }
    served = _served(production, tmp_path)
    assert served.returncode == 0, served.stderr
    [line] = [json.loads(text) for text in served.stderr.splitlines() if '"revops.request"' in text]
    assert line["path"] == "/login/" and line["status"] == 200 and line["request_id"] == "fresh-1"

    served = _served({**production, "LOG_FORMAT": "text"}, tmp_path)
    assert "INFO revops.request: GET /login/ 200" in served.stderr
    served = _served({"DJANGO_ALLOWED_HOSTS": "revops.example.com"}, tmp_path)  # development
    assert "INFO revops.request: GET /login/ 200" in served.stderr and '{"time"' not in served.stderr
    served = _served({"LOG_FORMAT": "xml"}, tmp_path)
    assert served.returncode != 0 and "LOG_FORMAT must be json or text" in served.stderr
