"""`make demo` and `make serve` listen where PORT (and HOST) say, and print that address (issue 17)."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*args: str) -> str:
    """What make would run (``make -n``: nothing runs, nothing installs)."""
    result = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def test_make_demo_serves_on_the_port_given():
    commands = dry_run("demo", "PORT=8001")
    assert "runserver 127.0.0.1:8001" in commands
    assert "demo_users --url http://127.0.0.1:8001/" in commands
    assert "8000" not in commands


def test_make_demo_and_serve_default_to_8000_and_take_a_host():
    assert "runserver 127.0.0.1:8000" in dry_run("demo")
    assert "runserver 0.0.0.0:8002" in dry_run("serve", "HOST=0.0.0.0", "PORT=8002")


@pytest.mark.django_db
def test_demo_users_prints_the_address_it_is_given(capsys):
    call_command("demo_users", "--force", "--url", "http://127.0.0.1:8001")
    out = capsys.readouterr().out
    assert "Open http://127.0.0.1:8001/ and sign in" in out and "http://127.0.0.1:8001/admin/" in out
    assert "8000" not in out
