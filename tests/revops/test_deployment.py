"""The production deployment (issue 17): the compose file and the Dockerfile check the probes the web
serves, every variable they require is documented, `docker compose config` accepts the file where Docker
has compose, and gunicorn's processes add up in one scrape (prometheus multiprocess mode)."""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.production.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _compose_command() -> list[str] | None:
    """Docker's compose plugin, else Debian's docker-compose (the same file format); None without either."""
    docker = shutil.which("docker")
    if docker is not None:
        try:
            answer = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
            if answer.returncode == 0:
                return [docker, "compose"]
        except (OSError, subprocess.TimeoutExpired):
            pass
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_runs_web_worker_beat_postgres_and_redis_with_probes():
    services = _compose()["services"]
    assert {"web", "worker", "beat", "db", "redis", "migrate"} <= set(services)
    web = services["web"]
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    assert "collectstatic" in " ".join(web["command"]) and "config/gunicorn.py" in " ".join(web["command"])
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["db"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
        assert services[name]["environment"]["DJANGO_DEBUG"] == "false"
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "/healthz" in dockerfile and "uv sync --frozen --no-dev" in dockerfile
    assert (ROOT / "config" / "gunicorn.py").exists()


def test_every_variable_the_compose_file_requires_is_in_env_example():
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    documented = set(re.findall(r"^#?\s*(\w+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert required and required <= documented, required - documented


@pytest.mark.skipif(_compose_command() is None, reason="neither docker compose nor docker-compose is here")
def test_docker_compose_accepts_the_file_beside_a_copy_of_env_example(tmp_path):
    # as the file's header tells a user: cp .env.example .env, then compose
    shutil.copy(COMPOSE, tmp_path / COMPOSE.name)
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = subprocess.run(
        [*_compose_command(), "-f", COMPOSE.name, "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert {"web", "worker", "beat", "db", "redis", "migrate"} <= set(resolved["services"])
    assert "change-me-too" in resolved["services"]["web"]["environment"]["DATABASE_URL"]


def test_the_compose_file_refuses_to_start_without_a_secret_key(tmp_path):
    command = _compose_command()
    if command is None:
        pytest.skip("neither docker compose nor docker-compose is here")
    shutil.copy(COMPOSE, tmp_path / COMPOSE.name)
    env = (ROOT / ".env.example").read_text()
    (tmp_path / ".env").write_text(re.sub(r"^DJANGO_SECRET_KEY=.*$", "", env, flags=re.MULTILINE))
    result = subprocess.run(
        [*command, "-f", COMPOSE.name, "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_a_scrape_adds_up_every_gunicorn_process(tmp_path):
    """Multiprocess mode as gunicorn runs it: processes count apart, one scrape shows the sum, and the
    gunicorn hook for a worker that exits works."""
    script = textwrap.dedent(
        """
        import multiprocessing, os
        from prometheus_client import generate_latest
        from revops.instruments import EVENTS_INGESTED, scrape_registry
        from config import gunicorn

        def work(n):
            EVENTS_INGESTED.labels(result="created").inc(n)

        if __name__ == "__main__":
            ctx = multiprocessing.get_context("fork")
            for n in (3, 4):
                p = ctx.Process(target=work, args=(n,)); p.start(); p.join()
                gunicorn.child_exit(None, type("W", (), {"pid": p.pid})())
            print(generate_latest(scrape_registry()).decode())
        """
    )
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert 'revops_events_ingested_total{result="created"} 7.0' in result.stdout
