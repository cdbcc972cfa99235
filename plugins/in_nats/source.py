"""The ``nats`` source: pull from a durable JetStream consumer, spool, then acknowledge.

Every relay agent of a pool binds the same durable pull consumer, so JetStream hands
each message to one of them. A pulled batch is submitted to the spool in one call
and each message is acknowledged only when that call says ACCEPTED (the events are
durably spooled, or an undecodable message is in dead letters). When the spool is
full the batch is handed back with a delayed negative acknowledgement and this relay
pauses, so another relay (or this one, later) takes it; a relay that dies simply
never acknowledges, and JetStream redelivers after ``ack_wait_s``. Redeliveries of
events this agent already spooled are recognised by event id and not spooled twice.
"""

from __future__ import annotations

import threading
from typing import Any

from agent.sdk import (NATS_SECRET_KEYS, Decoder, NatsConnectFailed, NatsConnection, Source, SourceContext, SubmitStatus,
                       utcnow)
from plugins.in_nats.config import CONFIG_SCHEMA, check_config

_MAX_BACKOFF_S = 30.0


class NatsSource(Source):
    type_name = "nats"
    description = "Durable JetStream pull consumer shared by a pool of relays; acknowledges only what is spooled."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    SECRET_KEYS = NATS_SECRET_KEYS
    check_config = staticmethod(check_config)

    def __init__(self, name: str, config: dict[str, Any], ctx: SourceContext) -> None:
        super().__init__(name, config, ctx)
        self.decoder: Decoder = ctx.build_decoder(config["decoder"])
        self.stream: str = config["stream"]
        self.durable: str = config["durable"]
        self.subject: str | None = config.get("subject")
        self.batch = int(config["fetch_batch"])
        self.fetch_wait = float(config["fetch_wait_s"])
        self.submit_timeout = float(config["submit_timeout_s"])
        self.nak_delay = float(config["nak_delay_s"])
        self.dedup = bool(config["dedup"])
        self.op_timeout = float(config["connect_timeout_s"]) + 5.0
        self.conn = NatsConnection(config, name, ctx.logger, ctx.redact)
        self.counts = {"messages": 0, "acked": 0, "naked": 0, "duplicates": 0, "decode_errors": 0}
        self._sub: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start the pull thread; connecting happens there, so a cluster that is down
        delays nothing else (the source keeps trying and logs why)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"source-{self.name}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._sub = None
        self.conn.close()

    def _stopping(self) -> bool:
        return self._stop.is_set() or self.ctx.stopping.is_set()

    # ----------------------------------------------------------------- consumer
    def consumer_config(self) -> Any:
        """The durable pull consumer this source creates when it does not exist."""
        from nats.js import api

        cfg = self.config
        return api.ConsumerConfig(
            name=self.durable, durable_name=self.durable, ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy(cfg["deliver_policy"]), ack_wait=float(cfg["ack_wait_s"]),
            max_deliver=int(cfg["max_deliver"]), max_ack_pending=int(cfg["max_ack_pending"]),
            filter_subject=self.subject, description="siemrelay relay pool")

    def _subscribe(self) -> None:
        self.conn.connect()
        self.conn.ensure_stream(self.stream, self.config.get("create_stream"), self.subject, self.op_timeout)
        wanted = self.consumer_config()

        async def bind() -> tuple[Any, bool, list[str], Any]:
            import nats.js.errors

            js = self.conn.js
            created = False
            try:
                info = await js.consumer_info(self.stream, self.durable)
            except nats.js.errors.NotFoundError:
                try:
                    info = await js.add_consumer(self.stream, config=wanted)
                    created = True
                except nats.js.errors.APIError:  # another relay created it at the same moment
                    info = await js.consumer_info(self.stream, self.durable)
            diffs = [f"{k} {_norm(k, getattr(info.config, k))} (configured {_norm(k, getattr(wanted, k))})"
                     for k in ("max_ack_pending", "ack_wait", "max_deliver", "filter_subject")
                     if _norm(k, getattr(info.config, k)) != _norm(k, getattr(wanted, k))]
            sub = await js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
            return sub, created, diffs, info

        try:
            self._sub, created, diffs, info = self.conn.call(bind(), self.op_timeout)
        except NatsConnectFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - reported, then retried with backoff
            desc = getattr(exc, "description", None) or str(exc) or type(exc).__name__
            raise NatsConnectFailed(self.ctx.redact(f"cannot bind consumer {self.durable} on {self.stream}: {desc}")) from None
        if diffs:
            self.ctx.logger.warning("consumer {} on {} exists with other settings ({}); it is used as it is",
                                    self.durable, self.stream, "; ".join(diffs))
        self.ctx.logger.info("consuming stream {} as durable consumer {}{}: {} pending, {} unacknowledged",
                             self.stream, self.durable, " (created)" if created else "", info.num_pending,
                             info.num_ack_pending)

    # ----------------------------------------------------------------- loop
    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping():
            if self._sub is None:
                try:
                    self._subscribe()
                    backoff = 0.5
                except NatsConnectFailed as exc:
                    self.ctx.logger.error("NATS {}: {}; retrying in {:.1f}s", self.name, exc.reason, backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF_S)
                    continue
            try:
                msgs = self.conn.call(self._fetch(), self.fetch_wait + self.op_timeout)
            except Exception as exc:  # noqa: BLE001 - the loop must survive anything the client throws
                if self.conn.nc is None or self.conn.nc.is_closed:
                    self._sub = None
                self.ctx.logger.warning("NATS {}: pull failed ({}); retrying in {:.1f}s", self.name,
                                        self.ctx.redact(f"{type(exc).__name__}: {exc}"), backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            backoff = 0.5
            if msgs and not self._handle(msgs):
                break
        self._release()
        self.ctx.logger.info("NATS {}: stopped ({messages} messages, {acked} acknowledged, {naked} handed back, "
                             "{duplicates} duplicate events)", self.name, **self.counts)

    async def _fetch(self) -> list[Any]:
        """One pull: up to ``fetch_batch`` messages, waiting at most ``fetch_wait_s``; [] when idle."""
        import asyncio

        import nats.errors
        import nats.js.errors

        try:
            return await self._sub.fetch(self.batch, timeout=self.fetch_wait)  # type: ignore[no-any-return]
        except (asyncio.TimeoutError, nats.errors.TimeoutError, nats.js.errors.FetchTimeoutError):
            return []

    def _handle(self, msgs: list[Any]) -> bool:
        """Submit one pulled batch and acknowledge it only once it is spooled.

        :returns: False when the agent is stopping (pull no more).
        """
        self.counts["messages"] += len(msgs)
        if self._stopping():
            self._settle(msgs, ack=False, delay=0)
            return False
        received = utcnow()
        records = [self.make_record(m.data, self.decoder, {"subject": m.subject}, received) for m in msgs]
        result = self.ctx.submit(records, timeout=self.submit_timeout, dedup=self.dedup)
        if result.status is SubmitStatus.ACCEPTED:
            self.counts["duplicates"] += result.duplicates
            self.counts["decode_errors"] += len(result.errors)
            self._settle(msgs, ack=True)
            return True
        if result.status is SubmitStatus.FULL:
            delay = max(self.nak_delay, result.retry_after or 0.0)
            self.ctx.logger.warning("spool full: {} messages handed back to the pool, pulling again in {:.0f}s",
                                    len(msgs), delay)
            self._settle(msgs, ack=False, delay=delay)
            self._stop.wait(delay)
            return True
        self._settle(msgs, ack=False, delay=0)  # CLOSED: stopping; let another relay take them now
        return False

    def _release(self) -> None:
        """On the way out: hand back messages delivered to us but not yet pulled from the
        client's buffer (a pull request can outlive the fetch that made it), then leave."""
        sub, self._sub = self._sub, None
        if sub is None or self.conn.nc is None:
            return

        async def run() -> int:
            queue = getattr(getattr(sub, "_sub", None), "_pending_queue", None)
            count = 0
            while queue is not None and not queue.empty():
                m = queue.get_nowait()
                if m.headers and m.headers.get("Status"):
                    continue  # a pull request's status line, not a message
                await m.nak()
                count += 1
            await sub.unsubscribe()
            await self.conn.nc.flush(timeout=self.op_timeout)
            return count

        try:
            self.counts["naked"] += self.conn.call(run(), self.op_timeout + 1.0)
        except Exception:  # noqa: BLE001 - unacknowledged messages are redelivered after ack_wait_s anyway
            pass

    def _settle(self, msgs: list[Any], *, ack: bool, delay: float = 0.0) -> None:
        """Ack (or nak with ``delay``) every message, then flush so the server has them.

        A lost acknowledgement is harmless: the message is redelivered after
        ``ack_wait_s`` and its events are recognised as duplicates.
        """

        async def run() -> None:
            for m in msgs:
                if ack:
                    await m.ack()
                else:
                    await m.nak(delay=delay or None)
            await self.conn.nc.flush(timeout=self.op_timeout)

        try:
            self.conn.call(run(), self.op_timeout + 1.0)
            self.counts["acked" if ack else "naked"] += len(msgs)
        except Exception as exc:  # noqa: BLE001
            self.ctx.logger.warning("NATS {}: could not {} {} messages ({}); JetStream redelivers them after ack_wait_s",
                                    self.name, "acknowledge" if ack else "hand back", len(msgs),
                                    self.ctx.redact(f"{type(exc).__name__}: {exc}"))


def _norm(key: str, value: Any) -> Any:  # Any: a consumer setting as asked or as reported (int, float, None)
    """A consumer setting as comparable between what we asked and what the server reports."""
    if key == "max_deliver":
        return value if value and value > 0 else -1
    if key == "ack_wait":
        return round(float(value), 3) if value else None
    return value or None
