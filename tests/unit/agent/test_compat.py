"""The 0.1 flat import paths keep working for one release, with a DeprecationWarning,
including those of modules split since (``agent.retry``, ``agent.build``, ``agent.reload``);
so do the built-in plugins' paths of code the SDK took over, and ``agent.sdk.expand``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent._compat import FACADES, MOVED_PATHS
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


# The old full paths of modules the plugin SDK moved (shared plugin code into agent.sdk,
# two admin parts into config and engine). Each: the warning names the new path, and the
# old module offers the new module's objects, not copies.
_PATH_CHECK = """
import warnings
warnings.simplefilter("error", DeprecationWarning)
try:
    import {old}
except DeprecationWarning as exc:
    print("warned:", exc)
warnings.simplefilter("ignore", DeprecationWarning)
import {old} as old, {new} as new
names = [n for n in getattr(new, "__all__", dir(new)) if not n.startswith("_")]
assert names and all(getattr(old, n) is getattr(new, n) for n in names), names
print("ok")
"""


@pytest.mark.parametrize("old,new", sorted(MOVED_PATHS.items()) + [
    (old, parts[0]) for old, (parts, _) in sorted(FACADES.items())])
def test_an_old_plugin_or_admin_path_warns_once_and_offers_the_new_objects(old: str, new: str) -> None:
    code = _PATH_CHECK.format(old=old, new=new)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"warned: {old} moved to {new}; the old path goes away" in done.stdout and "ok" in done.stdout


def test_the_old_digest_path_still_applies_the_digest_batch_in_place() -> None:
    code = ("import warnings\nwarnings.simplefilter('ignore', DeprecationWarning)\n"
            "from plugins.out_slack.digest import apply_digest_batching\n"
            "from agent.sdk.digest import digest_batching\n"
            "config = {'digest': {'window_s': 30, 'max_events': 50}, 'batch': {'max_wait_s': 1.0, 'max_events': 1}}\n"
            "expected = digest_batching(config, {'max_wait_s': 1.0, 'max_events': 1})\n"
            "assert apply_digest_batching(config, {'max_wait_s': 1.0, 'max_events': 1}) is None\n"
            "assert config == expected and config['batch']['max_events'] == 50, config\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr


def test_the_single_brace_expand_still_fills_placeholders_and_warns() -> None:
    from agent.sdk import expand
    from agent.sdk.render import expand as render_expand

    assert expand is render_expand
    with pytest.warns(DeprecationWarning, match=r"agent\.sdk\.expand .*agent\.sdk\.parse_template"):
        assert expand("{asset.name}/{{x}}", {"asset": {"name": "web"}}) == "web/{x}"
