"""The 0.1 flat import paths keep working for one release, with a DeprecationWarning,
including those of modules split since (``agent.retry``, ``agent.build``, ``agent.reload``)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

# A fresh interpreter per check: an old path imported once is cached in sys.modules,
# and the warning is given only on that first import.
_CHECK = """
import warnings
warnings.simplefilter("error", DeprecationWarning)
try:
    import agent.{old}
except DeprecationWarning as exc:
    print("warned:", exc)
warnings.simplefilter("ignore", DeprecationWarning)
from agent.{old} import {names}
{asserts}
print("ok")
"""


def _run(old: str, names: str, asserts: str) -> str:
    code = _CHECK.format(old=old, names=names, asserts=asserts)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_agent_retry_still_offers_the_circuit_breaker_and_the_rate_limiter() -> None:
    out = _run("retry", "CircuitBreaker, TokenBucket, RetryPolicy, classify",
               "from agent.delivery import circuit, ratelimit, retry\n"
               "assert CircuitBreaker is circuit.CircuitBreaker and TokenBucket is ratelimit.TokenBucket\n"
               "assert RetryPolicy is retry.RetryPolicy and classify is retry.classify")
    assert "warned: agent.retry was split into agent.delivery.retry, agent.delivery.circuit" in out and "ok" in out


def test_agent_build_still_offers_validate_config_and_the_builders() -> None:
    out = _run("build", "validate_config, AgentConfig, build_sinks",
               "from agent.config import validate\nfrom agent.engine import build\n"
               "assert validate_config is validate.validate_config and AgentConfig is validate.AgentConfig\n"
               "assert build_sinks is build.build_sinks")
    assert "warned: agent.build was split" in out and "ok" in out


def test_agent_reload_still_offers_the_ingest_gate() -> None:
    out = _run("reload", "SubmitGate, GatedSubmit, apply_reload",
               "from agent.engine import intake, reload\n"
               "assert SubmitGate is intake.SubmitGate and apply_reload is reload.apply_reload")
    assert "warned: agent.reload was split" in out and "ok" in out


def test_a_moved_module_is_the_same_object_under_its_old_name() -> None:
    out = _run("worker", "SinkWorker", "import agent.delivery.worker as new, agent.worker as old\nassert old is new")
    assert "warned: agent.worker moved to agent.delivery.worker" in out and "ok" in out
