"""Shell completion (argcomplete) answered by the installed ``siemrelay`` command, as
bash asks it after ``eval "$(register-python-argcomplete siemrelay)"``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def complete(line: str, tmp_path: Path) -> list[str]:
    out = tmp_path / "completions"
    env = {**os.environ, "_ARGCOMPLETE": "1", "_ARGCOMPLETE_IFS": "\n", "COMP_LINE": line, "COMP_POINT": str(len(line)),
           "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    res = subprocess.run([str(Path(sys.executable).parent / "siemrelay")], env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    return [w.strip() for w in out.read_text().split("\n") if w.strip()]


@pytest.mark.e2e
def test_commands_options_choices_and_type_names_complete(tmp_path: Path) -> None:
    assert complete("siemrelay ta", tmp_path) == ["tap"]
    assert set(complete("siemrelay tap --format ", tmp_path)) == {"json", "yaml", "logfmt"}
    assert set(complete("siemrelay describe sink s", tmp_path)) >= {"splunk_hec", "slack", "syslog", "stdout"}
