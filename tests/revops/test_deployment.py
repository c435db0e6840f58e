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


def _docker_compose_works() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


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


@pytest.mark.skipif(not _docker_compose_works(), reason="docker compose is not available here")
def test_docker_compose_accepts_the_file():
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "--env-file", str(ROOT / ".env.example"), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


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
