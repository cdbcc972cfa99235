"""Fault matrix of the HTTP sinks, through the real delivery worker.

Every case goes config → router → spool → worker → sink → a real peer on loopback
(the strict HEC receiver, or the scripted HTTP receiver standing in for Slack, Teams
and a webhook), with the fault injected at the peer. The worker's clock is fake, so
backoffs, ``Retry-After`` and circuit cool-downs cost no wall time. Each case asserts
what arrived (every event exactly once, in order), what was dead-lettered, the
circuit's state, and when (the peer's ``Retry-After`` honoured).

Transient faults are played three times, then the peer recovers; with
``failure_threshold: 2`` the circuit must have opened meanwhile. A retryable answer
must never reach dead letters.
"""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any, Callable

import orjson
import pytest

from agent.model import Event
from agent.testing import make_event
from tests.conftest import pick_port
from tests.peers.hec_receiver import HecReceiver
from tests.peers.http_capture import HttpCapture
from tests.peers.pipeline import HookClock, Pipeline

pytestmark = pytest.mark.e2e

TIMES = 3  # how often a transient fault is played before the peer recovers
RETRY_AFTER = 7
_TITLE = re.compile(r"seam-(?:\d{3}|POISON)")


def config(sink_type: str, url: str, extra: str = "") -> str:
    return f"""
agent: {{state_dir: "{{state_dir}}"}}
sinks:
  out:
    type: {sink_type}
    url: "{url}"
    batch: {{max_events: 4, max_wait_s: 0}}
    retry: {{jitter: none, initial_backoff_s: 1, multiplier: 2, max_backoff_s: 4, timeout_s: 1}}
    circuit_breaker: {{failure_threshold: 2, cooldown_s: 5}}
    rate_limit: {{per_second: 0}}
{extra}
routes:
  - {{name: all, to: [out]}}
"""


def titled(n: int) -> list[Event]:
    return [make_event(title=f"seam-{i:03d}", id=f"ev-{i:03d}") for i in range(n)]


# ------------------------------------------------------------------ the peers
class HttpPeer:
    """Slack, Teams or a webhook: the scripted receiver with its URL path."""

    def __init__(self, sink_type: str, path: str, clock: HookClock, extra: str = "") -> None:
        self.sink_type, self.path, self.clock, self.extra = sink_type, path, clock, extra
        self.port = pick_port()
        self.rx: HttpCapture | None = None

    def start(self, script: list[Any] = (), **kw: Any) -> None:
        self.rx = HttpCapture(list(script), port=self.port, **kw).start()

    def stop(self) -> None:
        if self.rx is not None:
            self.rx.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def titles_in(body: bytes) -> list[str]:
    """The event titles a request body carries, each once, in order of appearance.

    Teams cards carry titles Markdown-escaped (``seam\\-000`` in the JSON text): the
    escapes are dropped before matching.
    """
    text = re.sub(r"\\\\(?=[!-/:-@\[-`{-~])", "", body.decode())
    return list(dict.fromkeys(_TITLE.findall(text)))


# ------------------------------------------------------------------ faults per sink type
HTTP_SINKS = {
    "slack": ("/services/T000/B000/KEY", "\n    digest: {window_s: 0}"),
    "teams": ("/webhookb2/KEY", ""),
    "webhook": ("/ingest", "\n    format: ndjson"),
}

TRANSIENT = {
    "timeout": ("hang", 5),
    "reset": "reset",
    "408": 408,
    "429": (429, {"Retry-After": str(RETRY_AFTER)}),
    "500": 500,
    "503": 503,
}
VENDOR_BUSY = {
    "slack": {"rate_limited": (429, {"Retry-After": str(RETRY_AFTER)}, b"rate_limited")},
    "teams": {"legacy-200-429": (200, {}, b"Webhook message delivery failed with error: Microsoft Teams endpoint "
                                          b"returned HTTP error 429 with ContextId tcid=0"),
              "workflow-throttled": (429, {"Retry-After": str(RETRY_AFTER)},
                                     b'{"error":{"code":"WorkflowTriggerIsThrottled","message":"Rate limit is exceeded."}}')},
    "webhook": {},
}
OPENS_CIRCUIT = {"slack": (401, 403, 404, 410), "teams": (401, 403, 404, 410), "webhook": (401, 403)}

http_cases = [(t, name, step) for t in HTTP_SINKS for name, step in {**TRANSIENT, **VENDOR_BUSY[t]}.items()]


def run_http(tmp_path: Path, sink_type: str, script: list[Any], events: list[Event], *, refused: bool = False,
             **rx: Any) -> tuple[Pipeline, HttpPeer, Any]:
    path, extra = HTTP_SINKS[sink_type]
    clock = HookClock()
    peer = HttpPeer(sink_type, path, clock)
    if refused:  # nothing listens until the worker has slept TIMES times
        slept = []

        def bring_up() -> None:
            slept.append(1)
            if len(slept) == TIMES:
                peer.start(**rx)
        clock.hook = bring_up
    else:
        peer.start(script, **rx)
    p = Pipeline(tmp_path, config(sink_type, peer.url, extra), clock=clock)
    p.submit(events)
    try:
        worker = p.run()
    finally:
        p.close()
        peer.stop()
    return p, peer, worker


def delivered_titles(peer: HttpPeer, skip: int = 0) -> list[str]:
    """Event titles in the bodies the peer accepted with a 2xx, in order (``skip``: the
    first requests, whose 200 was a relayed failure in the Teams legacy case)."""
    assert peer.rx is not None
    out: list[str] = []
    for r in peer.rx.requests[skip:]:
        if r.status is None or not 200 <= r.status < 300:
            continue
        out.extend(titles_in(r.body))
    return out


@pytest.mark.parametrize("sink_type,fault,step", http_cases, ids=[f"{t}-{n}" for t, n, _ in http_cases])
def test_transient_faults_deliver_everything_once_and_dead_letter_nothing(tmp_path: Path, sink_type: str, fault: str,
                                                                           step: Any) -> None:
    events = titled(6)
    p, peer, worker = run_http(tmp_path, sink_type, [step] * TIMES, events)
    assert p.dead_letters() == []
    relayed = fault == "legacy-200-429"
    assert delivered_titles(peer, skip=TIMES if relayed else 0) == [e.title for e in events]
    assert worker.circuit.opened_count >= 1 and worker.circuit.state == "closed"
    if "Retry-After" in str(step):
        assert float(RETRY_AFTER) in p.clock.sleeps  # the peer's wait replaced the backoff
    history = p.history()
    assert [h["success"] for h in history] == [0] * TIMES + [1] * (len(history) - TIMES)
    if fault in ("429", "rate_limited", "legacy-200-429", "workflow-throttled"):
        assert {h["code"] for h in history[:TIMES]} == {429}
    if fault in ("rate_limited", "workflow-throttled"):
        assert ("rate_limited" if fault == "rate_limited" else "WorkflowTriggerIsThrottled") in history[0]["error"]


@pytest.mark.parametrize("sink_type", list(HTTP_SINKS))
def test_connection_refused_until_the_peer_starts(tmp_path: Path, sink_type: str) -> None:
    events = titled(5)
    p, peer, worker = run_http(tmp_path, sink_type, [], events, refused=True)
    assert p.dead_letters() == []
    assert delivered_titles(peer) == [e.title for e in events]
    assert worker.circuit.opened_count >= 1 and worker.circuit.state == "closed"
    errors = [h["error"] for h in p.history() if not h["success"]]
    # two refusals open the circuit; the half-open probe after the cool-down finds the peer up
    assert len(errors) >= 2 and all("onnection" in e for e in errors), errors


@pytest.mark.parametrize("sink_type", list(HTTP_SINKS))
def test_400_dead_letters_only_the_poison_event(tmp_path: Path, sink_type: str) -> None:
    events = titled(8)
    events[5] = make_event(title="seam-POISON", id="ev-poison")
    p, peer, worker = run_http(tmp_path, sink_type, [], events, reject_if=lambda body: "seam-POISON" in titles_in(body))
    assert [d.event_id for d in p.dead_letters()] == ["ev-poison"]
    assert p.dead_letters()[0].reason.startswith("rejected: HTTP 400")
    assert delivered_titles(peer) == [e.title for i, e in enumerate(events) if i != 5]
    assert worker.circuit.state == "closed" and worker.circuit.opened_count == 0


@pytest.mark.parametrize("sink_type", list(HTTP_SINKS))
def test_413_splits_the_batch_until_it_fits(tmp_path: Path, sink_type: str) -> None:
    events = titled(8)
    p, peer, worker = run_http(tmp_path, sink_type, [], events, max_body_bytes=_one_event_size(tmp_path, sink_type))
    assert p.dead_letters() == []
    assert sorted(delivered_titles(peer)) == [e.title for e in events]
    assert 413 in peer.rx.statuses() and worker.circuit.state == "closed"


def _one_event_size(tmp_path: Path, sink_type: str) -> int:
    """The body size of a one-event request of this sink (measured against the receiver): the
    peer's limit, so only single events fit and every batch must be split down."""
    (tmp_path / "probe").mkdir()
    _, peer, _ = run_http(tmp_path / "probe", sink_type, [], titled(1))
    return len(peer.rx.requests[0].body)


@pytest.mark.parametrize("sink_type,status", [(t, s) for t in HTTP_SINKS for s in (401, 403)],
                         ids=[f"{t}-{s}" for t in HTTP_SINKS for s in (401, 403)])
def test_credentials_refused_open_the_circuit_and_keep_events_queued(tmp_path: Path, sink_type: str, status: int) -> None:
    events = titled(4)
    p, peer, worker = run_http(tmp_path, sink_type, [status] * TIMES, events)
    assert status in OPENS_CIRCUIT[sink_type]
    assert p.dead_letters() == []
    assert delivered_titles(peer) == [e.title for e in events]
    assert worker.circuit.opened_count == TIMES and worker.circuit.state == "closed"
    assert p.clock.sleeps[:TIMES] == [5.0] * TIMES  # each refusal waits a full cool-down, not a backoff


# ------------------------------------------------------------------ Splunk HEC
HEC_BUSY = {f"hec-code-{c}": c for c in (8, 9, 18, 19, 20, 23, 26, 27)}


@pytest.fixture
def hec_port() -> int:
    return pick_port()


def run_hec(tmp_path: Path, port: int, events: list[Event], arm: Callable[[HecReceiver], None] = lambda h: None, *,
            refused: bool = False, extra: str = "", **rx: Any) -> tuple[Pipeline, HecReceiver, Any]:
    clock = HookClock()
    hec = HecReceiver(port, tokens={"good-token": {"ack": False}}, **rx)
    text = config("splunk_hec", hec.url, "    token: good-token\n    healthcheck_on_start: false" + extra)
    p = Pipeline(tmp_path, text, clock=clock)
    p.submit(events)
    if refused:
        hec.server.server_close()
        late: list[HecReceiver] = []

        def bring_up() -> None:
            if len(clock.sleeps) == TIMES:
                late.append(HecReceiver(port, tokens={"good-token": {"ack": False}}).__enter__())
        clock.hook = bring_up
        try:
            worker = p.run()
        finally:
            p.close()
            for h in late:
                h.__exit__()
        return p, late[0], worker
    arm(hec)
    with hec:
        try:
            worker = p.run()
        finally:
            p.close()
    return p, hec, worker


hec_transient: dict[str, Callable[[HecReceiver], None]] = {
    "timeout": lambda h: [h.fail_next_transport("hang", 5) for _ in range(TIMES)],
    "reset": lambda h: [h.fail_next_transport("reset") for _ in range(TIMES)],
    **{str(s): (lambda h, s=s: [h.fail_next_http(s) for _ in range(TIMES)]) for s in (408, 500, 503)},
    "429": lambda h: [h.fail_next_http(429, {"Retry-After": str(RETRY_AFTER)}) for _ in range(TIMES)],
    **{name: (lambda h, c=c: [h.fail_next(c, **{"Retry-After": str(RETRY_AFTER)}) for _ in range(TIMES)])
       for name, c in HEC_BUSY.items()},
}


@pytest.mark.parametrize("fault", list(hec_transient))
def test_hec_transient_faults_deliver_everything_once_and_dead_letter_nothing(tmp_path: Path, hec_port: int,
                                                                               fault: str) -> None:
    events = titled(6)
    p, hec, worker = run_hec(tmp_path, hec_port, events, hec_transient[fault])
    assert p.dead_letters() == []
    assert [e["event"]["title"] for e in hec.indexed] == [e.title for e in events]
    assert worker.circuit.opened_count >= 1 and worker.circuit.state == "closed"
    history = p.history()
    assert [h["success"] for h in history] == [0] * TIMES + [1] * (len(history) - TIMES)
    if fault.startswith("hec-code-"):
        code = HEC_BUSY[fault]
        # the HTTP status, what retry_on matched: Splunk's documented status of each code
        assert history[0]["code"] == {8: 500, 26: 429, 27: 429}.get(code, 503)
        assert f"HEC code {code}" in history[0]["error"]
        assert float(RETRY_AFTER) in p.clock.sleeps


def test_hec_connection_refused_until_splunk_starts(tmp_path: Path, hec_port: int) -> None:
    events = titled(5)
    p, hec, worker = run_hec(tmp_path, hec_port, events, refused=True)
    assert p.dead_letters() == []
    assert [e["event"]["title"] for e in hec.indexed] == [e.title for e in events]
    assert worker.circuit.opened_count >= 1 and worker.circuit.state == "closed"


def test_hec_invalid_event_is_the_only_dead_letter(tmp_path: Path, hec_port: int) -> None:
    events = [make_event(title=f"seam-{i:03d}", id=f"ev-{i:03d}", organization={"name": "main"}) for i in range(8)]
    events[5] = make_event(title="seam-POISON", id="ev-poison", organization={"name": "no-such-index"})
    p, hec, worker = run_hec(tmp_path, hec_port, events, extra='\n    index: "{{ organization.name }}"')
    assert [d.event_id for d in p.dead_letters()] == ["ev-poison"]
    assert "HEC code 7" in p.dead_letters()[0].reason
    assert [e["event"]["title"] for e in hec.indexed] == [e.title for i, e in enumerate(events) if i != 5]
    assert worker.circuit.state == "closed" and worker.circuit.opened_count == 0


def test_hec_413_splits_the_batch_until_it_fits(tmp_path: Path, hec_port: int) -> None:
    events = titled(8)
    p, hec, worker = run_hec(tmp_path, hec_port, events, extra="\n    gzip: false", max_content_length=800)
    assert p.dead_letters() == []
    assert sorted(e["event"]["title"] for e in hec.indexed) == [e.title for e in events]
    assert 413 in [r.status for r in hec.requests] and worker.circuit.state == "closed"


@pytest.mark.parametrize("token,code", [("wrong-token", 4), ("off-token", 1)])
def test_hec_bad_token_opens_the_circuit_and_keeps_events_queued(tmp_path: Path, hec_port: int, token: str,
                                                                 code: int) -> None:
    events = titled(4)

    def fix_token_after_three_refusals(h: HecReceiver) -> None:
        h.fail_next(code)
        h.fail_next(code)
        h.fail_next(code)
    p, hec, worker = run_hec(tmp_path, hec_port, events, fix_token_after_three_refusals)
    assert p.dead_letters() == []
    assert [e["event"]["title"] for e in hec.indexed] == [e.title for e in events]
    assert worker.circuit.opened_count == TIMES and p.clock.sleeps[:TIMES] == [5.0] * TIMES
    assert [h["code"] for h in p.history()[:TIMES]] == [403] * TIMES


def test_hec_400_without_a_code_dead_letters_after_isolating(tmp_path: Path, hec_port: int) -> None:
    """A bare 400 (a proxy refusing the request) is permanent: the batch is split and
    the event the proxy keeps refusing is dead-lettered; nothing else is lost."""
    events = titled(2)
    p, hec, worker = run_hec(tmp_path, hec_port, events, lambda h: [h.fail_next_http(400) for _ in range(2)])
    assert [d.event_id for d in p.dead_letters()] == ["ev-000"]
    assert [e["event"]["title"] for e in hec.indexed] == ["seam-001"]
    assert orjson.loads(p.dead_letters()[0].data)["title"] == "seam-000"
