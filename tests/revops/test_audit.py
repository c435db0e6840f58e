"""The dependency audit (.ci/audit.py) never reports success for an audit that did not happen."""

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)

SUCCESS = "No known vulnerabilities"


def dep(name, *, vulns=(), skip=None):
    row = {"name": name, "version": "1.0", "vulns": list(vulns)}
    if skip:
        row = {"name": name, "skip_reason": skip}
    return row


def test_a_service_that_answered_for_nothing_is_not_a_clean_audit():
    """What pip-audit does against a mirror without per-version JSON: skips everything, says success."""
    reason = "Dependency not found on PyPI and could not be audited: django (5.2.19)"
    report = {"dependencies": [dep("django", skip=reason), dep("redis", skip=reason)]}
    status, lines = audit.verdict(report, "pypi")
    assert status == 2
    assert lines[-1].startswith("audit not performed:") and not any(SUCCESS in line for line in lines)


def test_some_packages_unchecked_is_incomplete():
    status, lines = audit.verdict({"dependencies": [dep("django"), dep("odd", skip="not found")]}, "pypi")
    assert status == 2 and "audit incomplete: 1 of 2" in lines[-1]


def test_a_known_vulnerability_fails():
    vuln = {"id": "PYSEC-2099-1", "fix_versions": ["1.1"]}
    status, lines = audit.verdict({"dependencies": [dep("django", vulns=[vuln]), dep("redis")]}, "pypi")
    assert status == 1 and lines == ["VULNERABLE django 1.0: PYSEC-2099-1 (fixed in 1.1)"]


def test_every_package_checked_and_clean_is_success():
    status, lines = audit.verdict({"dependencies": [dep("django"), dep("redis")]}, "osv")
    assert status == 0 and lines == [f"{SUCCESS} in the 2 locked packages (checked with OSV (api.osv.dev))."]


@pytest.fixture
def offline(monkeypatch):
    """pip-audit failing the way it does without network: a traceback, no report."""
    monkeypatch.setattr(audit, "export_lock", lambda path: path.write_text("django==5.2.19\n"))
    error = (
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', port=443): "
        "Max retries exceeded with url: /v1/query"
    )
    monkeypatch.setattr(
        audit, "pip_audit", lambda *a, **k: subprocess.CompletedProcess([], 1, stdout="", stderr=error)
    )


@pytest.mark.parametrize(("args", "status"), [([], 2), (["--offline-ok"], 0)])
def test_an_unreachable_service_says_so(offline, capsys, args, status):
    assert audit.main(["--service", "osv", *args]) == status
    out = capsys.readouterr().out
    assert out.startswith("audit not performed: could not reach OSV (api.osv.dev)") and SUCCESS not in out


def test_a_report_is_read_from_pip_audits_json(monkeypatch, capsys):
    monkeypatch.setattr(audit, "export_lock", lambda path: path.write_text("django==5.2.19\n"))

    def fake(requirements, report, service, timeout):
        report.write_text(json.dumps({"dependencies": [dep("django", skip="not found")]}))
        return subprocess.CompletedProcess([], 0, stdout="No known vulnerabilities found", stderr="")

    monkeypatch.setattr(audit, "pip_audit", fake)
    assert audit.main([]) == 2
    assert SUCCESS not in capsys.readouterr().out
