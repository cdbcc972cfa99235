"""The ingest gate: a spool swap waits for submissions in flight and holds new ones meanwhile."""

from __future__ import annotations

import threading

from agent.engine.intake import GatedSubmit, SubmitGate
from agent.sdk.source import Submitted, SubmitStatus


class _Intake:
    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[str] = []

    def submit(self, records, timeout=None, **kw):  # type: ignore[no-untyped-def]
        self.seen.append(records[0])
        return Submitted(SubmitStatus.ACCEPTED, events=1)


class _Sup:
    intake: _Intake


def test_submissions_reach_the_current_intake_and_wait_while_paused():
    gate = SubmitGate()
    sup = _Sup()
    sup.intake = _Intake("old")
    submit = GatedSubmit(sup, gate, hold_s=30)
    assert submit(["r1"]).accepted and sup.intake.seen == ["r1"]

    old = sup.intake
    held = threading.Event()
    done: list[Submitted] = []
    with gate.paused():
        worker = threading.Thread(target=lambda: (held.set(), done.append(submit(["r2"]))))
        worker.start()
        held.wait(5)
        assert not done  # held at the gate, not refused
        sup.intake = _Intake("new")
    worker.join(5)
    assert done and done[0].accepted
    assert old.seen == ["r1"] and sup.intake.seen == ["r2"]


def test_pause_waits_for_a_submission_in_flight():
    gate = SubmitGate()
    assert gate.enter(1)
    order: list[str] = []

    def swap() -> None:
        with gate.paused():
            order.append("swapped")

    t = threading.Thread(target=swap)
    t.start()
    t.join(0.2)
    order.append("submit finished")
    gate.exit()
    t.join(5)
    assert order == ["submit finished", "swapped"]


def test_a_submission_held_too_long_is_told_to_push_back():
    gate = SubmitGate()
    sup = _Sup()
    sup.intake = _Intake("x")
    with gate.paused():
        res = GatedSubmit(sup, gate, hold_s=0.05)(["r"])
    assert res.status is SubmitStatus.FULL and res.retry_after > 0 and sup.intake.seen == []
