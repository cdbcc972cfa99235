"""The core and the built-in plugins are type-checked with mypy --strict (STYLE habit 1),
so the contracts plugin authors build on are checked, not just written down, and the
built-ins are checked against them as a third-party plugin would be."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_agent_and_plugins_pass_mypy_strict() -> None:
    res = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "--no-error-summary",
                          "--cache-dir", "/tmp/siemrelay-mypy-cache", "agent", "plugins"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert "No module named mypy" not in res.stderr, "mypy is not installed: the test command installs it"
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
