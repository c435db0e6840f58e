"""Known vulnerabilities in the locked dependencies: ``make audit`` and a step of ``.ci/run``.

Exports ``uv.lock`` (every group, exact versions) and asks pip-audit about each package. It only ever
says "no known vulnerabilities" when the vulnerability service answered for every package: pip-audit
itself reports success when it could check nothing (a mirror without PyPI's per-version JSON makes it
skip each package as "not found"), so its JSON report is read and every skip counts.

Exit status: 0 all packages checked and none vulnerable; 1 a vulnerability is known; 2 the audit was
not (or not fully) performed — unless ``--offline-ok`` (CI: a machine without the service must not
fail the build), which exits 0 after printing "audit not performed: …". Nothing here prints success
for an audit that did not happen.

    python .ci/audit.py [--service pypi|osv] [--offline-ok] [--timeout 50]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"pypi": "the PyPI JSON API (pypi.org)", "osv": "OSV (api.osv.dev)"}
UNREACHABLE = ("ConnectionError", "Max retries exceeded", "NameResolutionError", "timed out", "ServiceError")


def export_lock(path: Path) -> None:
    uv = os.environ.get("UV") or str(ROOT / ".tools" / "bin" / "uv")
    subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", "--all-groups", "--no-emit-project",
         "--format", "requirements.txt", "--quiet", "-o", str(path)],
        cwd=ROOT, check=True,
    )  # fmt: skip


def pip_audit(requirements: Path, report: Path, service: str, timeout: float) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "pip_audit", "-r", str(requirements), "--no-deps", "--disable-pip",
        "-s", service, "--progress-spinner", "off", "-f", "json", "-o", str(report),
    ]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def verdict(report: dict, service: str) -> tuple[int, list[str]]:
    """(exit status, lines to print) from pip-audit's JSON report."""
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    vulnerable = [d for d in deps if d.get("vulns")]
    lines = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            version = dep.get("version", "?")
            lines.append(f"VULNERABLE {dep['name']} {version}: {vuln['id']} (fixed in {fixed})")
    where = SERVICES.get(service, service)
    if deps and len(skipped) == len(deps):
        reason = skipped[0]["skip_reason"]
        lines.append(
            f"audit not performed: {where} answered for none of the {len(deps)} locked packages "
            f"(e.g. {reason!r})"
        )
        return (1 if vulnerable else 2), lines
    if skipped:
        names = ", ".join(d["name"] for d in skipped[:10]) + (" …" if len(skipped) > 10 else "")
        count = f"{len(skipped)} of {len(deps)}"
        lines.append(f"audit incomplete: {count} packages could not be checked ({names})")
        return (1 if vulnerable else 2), lines
    if vulnerable:
        return 1, lines
    lines.append(f"No known vulnerabilities in the {len(deps)} locked packages (checked with {where}).")
    return 0, lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_service = os.environ.get("AUDIT_SERVICE", "pypi")
    parser.add_argument("--service", choices=sorted(SERVICES), default=default_service)
    parser.add_argument("--offline-ok", action="store_true", help="exit 0 when the audit could not be done")
    parser.add_argument("--timeout", type=float, default=50.0, help="seconds for the whole query")
    args = parser.parse_args(argv)
    where = SERVICES[args.service]

    with tempfile.TemporaryDirectory() as tmp:
        requirements, report_path = Path(tmp) / "requirements.txt", Path(tmp) / "audit.json"
        export_lock(requirements)
        try:
            result = pip_audit(requirements, report_path, args.service, args.timeout)
        except subprocess.TimeoutExpired:
            status, lines = 2, [f"audit not performed: {where} did not answer within {args.timeout:.0f} s"]
        else:
            if report_path.exists():
                status, lines = verdict(json.loads(report_path.read_text()), args.service)
            else:
                output = (result.stderr or result.stdout).strip().splitlines()
                cause = next((ln for ln in reversed(output) if any(m in ln for m in UNREACHABLE)), None)
                last = output[-1] if output else f"pip-audit exited {result.returncode}"
                if cause:
                    status, lines = 2, [f"audit not performed: could not reach {where} ({cause[:200]})"]
                else:
                    status, lines = 2, [f"audit not performed: pip-audit failed ({last[:200]})"]
    for line in lines:
        print(line)
    if status == 2 and args.offline_ok:
        print("(not failing the build for it: --offline-ok)")
        return 0
    return status


if __name__ == "__main__":
    sys.exit(main())
