"""``Intake.submit_async``: decode now, answer once the group commit is done, in the same terms as ``submit``."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from loguru import logger

from agent.engine.intake import GatedSubmit, Intake, SubmitGate
from agent.sdk.source import PendingSubmit, Submitted, SubmitStatus
from agent.spool.store import Spool, SpoolError

from tests.unit.agent.engine.test_intake import queued, rec, router, spool  # noqa: F401  (spool: the fixture)


def test_answers_after_the_commit_with_what_submit_answers(spool: Spool) -> None:
    intake = Intake(spool, router(), logger)
    pending = intake.submit_async([rec("f1", "s1"), rec("bad")])
    result = pending.result(timeout=5)
    assert result.status is SubmitStatus.ACCEPTED
    assert result.events == 2 and [i for i, _ in result.errors] == [1]
    assert queued(spool, "siem") == ["f1", "s1"] and queued(spool, "chat") == ["f1"]
    assert len(spool.dead_letters()) == 1
    assert intake.stats.by_input["test"]["events"] == 2


def test_several_batches_in_flight_commit_in_the_order_submitted(spool: Spool) -> None:
    intake = Intake(spool, router(), logger)
    pendings = [intake.submit_async([rec(f"s{i}")]) for i in range(50)]
    assert all(p.result(timeout=5).accepted for p in pendings)
    assert queued(spool, "siem") == [f"s{i}" for i in range(50)]


def test_the_callback_runs_once_even_when_added_after_the_answer(spool: Spool) -> None:
    intake = Intake(spool, router(), logger)
    pending = intake.submit_async([rec("s1")])
    pending.result(timeout=5)
    seen: list[Submitted] = []
    pending.add_done_callback(seen.append)
    assert [r.status for r in seen] == [SubmitStatus.ACCEPTED]


def test_a_failed_commit_is_not_acknowledged(spool: Spool, mocker: Any) -> None:
    intake = Intake(spool, router(), logger)
    mocker.patch.object(spool, "_do_append", side_effect=SpoolError("disk gone"))
    result = intake.submit_async([rec("s1")]).result(timeout=5)
    assert result.status is SubmitStatus.FULL and result.retry_after > 0
    assert intake.stats.by_input["test"]["events"] == 0


def test_a_full_spool_is_refused_at_once(tmp_path) -> None:
    s = Spool(tmp_path, max_bytes=1, sync="normal")
    s.open(["siem"])
    try:
        intake = Intake(s, router(), logger)
        assert intake.submit([rec("s1")]).accepted  # goes over the quota
        pending = intake.submit_async([rec("s2")])
        assert pending.done() and pending.result().status is SubmitStatus.FULL
    finally:
        s.close()


def test_a_closed_spool_answers_closed(spool: Spool) -> None:
    intake = Intake(spool, router(), logger)
    spool.close()
    assert intake.submit_async([rec("s1")]).result(timeout=1).status is SubmitStatus.CLOSED


def test_the_gate_counts_a_submission_until_its_answer(spool: Spool) -> None:
    """A reload pauses the gate and waits for submissions in flight: an async one counts until committed."""
    intake = Intake(spool, router(), logger)

    class Holder:
        def __init__(self) -> None:
            self.intake: Intake | None = intake

    gate = SubmitGate()
    gated = GatedSubmit(Holder(), gate)
    release = threading.Event()
    original = spool._do_append

    def slow(*args: Any) -> int:
        release.wait(5)
        return original(*args)

    spool._do_append = slow  # type: ignore[method-assign]
    pending = gated.submit_async([rec("s1")])
    paused = threading.Event()

    def pause() -> None:
        with gate.paused():
            paused.set()

    t = threading.Thread(target=pause)
    t.start()
    assert not paused.wait(0.2)  # the reload waits for the commit in flight
    release.set()
    assert pending.result(timeout=5).accepted
    assert paused.wait(5)
    t.join(5)


def test_a_context_without_the_agent_answers_synchronously() -> None:
    from pathlib import Path

    from agent.sdk.source import SourceContext

    calls: list[int] = []

    def submit(records: Any, timeout: float | None = None, *, dedup: bool = False) -> Submitted:
        calls.append(len(records))
        return Submitted(SubmitStatus.ACCEPTED, events=len(records))

    ctx = SourceContext(name="x", logger=logger, state_dir=Path("."), submit=submit,
                        build_decoder=lambda spec, key="decoder": None)  # type: ignore[arg-type,return-value]
    pending = ctx.submit_async([rec("a"), rec("b")])
    assert isinstance(pending, PendingSubmit) and pending.done() and pending.result().events == 2 and calls == [2]
