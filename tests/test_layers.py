"""The layers hold: the import-linter contracts in pyproject.toml (docs/architecture.md, "Layers")."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept():
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "Contracts: 2 kept, 0 broken." in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0
