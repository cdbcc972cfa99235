"""The sink conformance suite: what every sink, built-in or third-party, must do.

Each ``check_*`` function raises :class:`ConformanceError` (an ``AssertionError``)
naming what is wrong and how to fix it, or :class:`NotApplicable` when the check does
not apply to this sink (a file sink has no HTTP status to classify, or the sink did
not opt in to network checks). The pytest entry point is
:class:`agent.testing.pytest_plugin.SinkConformance`; :func:`run_conformance` runs every check
without pytest and returns the failures.

A sink opts in to the network checks with one classmethod::

    @classmethod
    def conformance_config(cls, endpoint: Endpoint) -> dict:
        return {"url": endpoint.url, "token": endpoint.secret}

``endpoint`` points at a capturing receiver on loopback (or at a closed port, to
provoke a connection error); ``endpoint.secret`` is a canary the suite looks for in
``repr``, logs and errors. Optional class attributes: ``conformance_transport``
(``http``, ``tcp``, ``file`` or ``none``; inferred from a ``url``, ``address`` or
``path`` key) and ``conformance_ok_reply`` (the :class:`Reply` meaning success).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from agent.sdk.sink import Sink
from agent.testing.checks import (check_close_idempotent, check_connection_refused, check_declaration,
                                  check_defaults_validate, check_common_defaults, check_config_validates,
                                  check_empty_batch, check_encoder_pure, check_healthcheck, check_http_status,
                                  check_keys_documented, check_ok, check_secrets, check_timeout)
from agent.testing.harness import (TIMEOUT_S, ConformanceError, Endpoint, NotApplicable, SinkHarness, fallback_config,
                                   transport_of)

__all__ = ["Endpoint", "SinkHarness", "ConformanceError", "NotApplicable", "CHECKS", "STATIC_CHECKS", "run_conformance",
           "transport_of", "TIMEOUT_S", "fallback_config"]

#: (name, check) in the order they run; every check takes a :class:`SinkHarness`.
CHECKS: tuple[tuple[str, Callable[[SinkHarness], None]], ...] = (
    ("declaration", check_declaration),
    ("keys_documented", check_keys_documented),
    ("defaults_validate", check_defaults_validate),
    ("common_block_defaults", check_common_defaults),
    ("config_validates", check_config_validates),
    ("encoder_pure", check_encoder_pure),
    ("empty_batch", check_empty_batch),
    ("ok", check_ok),
    ("connection_refused", check_connection_refused),
    ("timeout", check_timeout),
    ("http_429", lambda h: check_http_status(h, 429)),
    ("http_500", lambda h: check_http_status(h, 500)),
    ("http_503", lambda h: check_http_status(h, 503)),
    ("http_400", lambda h: check_http_status(h, 400)),
    ("http_403", lambda h: check_http_status(h, 403)),
    ("healthcheck", check_healthcheck),
    ("close_idempotent", check_close_idempotent),
    ("secrets", check_secrets),
)


#: The checks that need neither an instance nor a network (schema and declarations).
STATIC_CHECKS = ("declaration", "keys_documented", "defaults_validate", "common_block_defaults")


def run_conformance(sink_class: type[Sink], workdir: Path | str, only: Iterable[str] | None = None) -> dict[str, str]:
    """Run every check (or those named in ``only``); return ``{check: "ok" | "n/a: why" | "FAILED: why"}``."""
    wanted = set(only) if only is not None else None
    results: dict[str, str] = {}
    for name, check in CHECKS:
        if wanted is not None and name not in wanted:
            continue
        harness = SinkHarness(sink_class, Path(workdir) / name)
        try:
            check(harness)
            results[name] = "ok"
        except NotApplicable as exc:
            results[name] = f"n/a: {exc}"
        except AssertionError as exc:
            results[name] = f"FAILED: {exc}"
        finally:
            harness.close()
    return results
