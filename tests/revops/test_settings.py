import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _check(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_mode_refuses_to_start_without_secret_key_and_hosts():
    result = _check({"DJANGO_DEBUG": "false"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr and "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_production_mode_starts_when_configured():
    result = _check(
        {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "example.com"}
    )
    assert result.returncode == 0, result.stderr


def test_no_environment_runs_embedded(settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER is (not os.environ.get("REDIS_URL"))
    if not os.environ.get("DATABASE_URL"):
        assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
