"""Security headers (issue 12, item 12): a Content-Security-Policy on every page, HTTPS with HSTS
behind a TLS proxy, and `check --deploy` clean in that mode."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k3y-" + "Zq8!vN2#rT6@wY1$" * 4,
    "DJANGO_ALLOWED_HOSTS": "revops.example.com",
    "DJANGO_SECURE_SSL": "true",
}


def _deploy_check(overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_is_clean_behind_a_tls_proxy():
    result = _deploy_check(PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_without_https():
    """The same check fails when the TLS settings are off: it can tell."""
    result = _deploy_check({**PRODUCTION, "DJANGO_SECURE_SSL": "false"})
    assert result.returncode != 0 and "security.W004" in result.stderr + result.stdout


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
def test_pages_carry_a_policy_that_runs_only_this_sites_scripts(client, viewer):
    client.force_login(viewer)
    for url in ("/login/", "/", "/accounts/"):
        policy = _policy(client.get(url))
        assert policy["script-src"] == ["'self'"], url
        assert policy["style-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'self'"]


@pytest.mark.django_db
def test_the_api_docs_widen_styles_only(client, viewer):
    client.force_login(viewer)
    for url in ("/api/docs/", "/api/redoc/"):
        policy = _policy(client.get(url))
        assert policy["script-src"] == ["'self'"]
        assert "'unsafe-inline'" in policy["style-src"] and "blob:" in policy["worker-src"]


def test_templates_have_no_inline_scripts_or_handlers():
    """What the policy would refuse, caught before a browser does: <script> without src, <style>
    elements, on…= attributes, javascript: URLs, and the htmx features that evaluate code (the API docs
    template is a third-party page with its own policy)."""
    bad = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\son[a-z]+\s*=|javascript:|hx-on|hx-vals=['\"]js:")
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in (ROOT / "templates").rglob("*.html")
        for match in bad.finditer(path.read_text())
    ]
    assert not found


@pytest.mark.django_db
def test_behind_a_tls_proxy_plain_http_is_redirected_and_https_gets_hsts(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    plain = Client().get("/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    secure = Client().get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
