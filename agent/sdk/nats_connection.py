"""A NATS connection owned by one plugin instance and used from the agent's threads.

The agent is threaded; ``nats-py`` is asyncio. Each sink or source instance owns a
:class:`LoopThread` (one event loop in one thread, joined on close) and calls into it
with :meth:`LoopThread.call`, which blocks the calling thread for at most a timeout.
Nothing here is global: two sinks to two clusters never share a loop or a socket.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Coroutine, TypeVar

from agent.sdk.nats_options import connect_options, display_url, server_urls, stream_config

if TYPE_CHECKING:
    from loguru import Logger

__all__ = ["LoopThread", "NatsConnection", "ConnectFailed"]

T = TypeVar("T")


class ConnectFailed(Exception):
    """No server of the cluster could be reached, or it refused us.

    :ivar fatal: the server refused our credentials or configuration (retrying soon
        will not help; the caller opens its circuit instead of hammering the server).
    """

    def __init__(self, reason: str, fatal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal


class LoopThread:
    """An asyncio event loop running in a thread that this object starts and joins."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=self.name)
        self._thread.start()
        ready.wait()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """Run ``coro`` on the loop and wait for its result from this (other) thread.

        :raises TimeoutError: not done within ``timeout`` (the coroutine is cancelled).
        """
        if self._loop is None or not self.running:
            if asyncio.iscoroutine(coro):
                coro.close()
            raise RuntimeError("the NATS event loop is not running")
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError(f"no answer within {timeout}s") from None

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what still runs on the loop, stop it and join its thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        if not thread.is_alive():
            loop.close()
        self._loop = None
        self._thread = None


class NatsConnection:
    """Connect, reconnect and close one NATS client; JetStream context included.

    :param config: the validated plugin section (see ``options.CONNECTION_SCHEMA``).
    :param name: the section's name, for the connection name and thread name.
    """

    def __init__(self, config: dict[str, Any], name: str, logger: "Logger",
                 redact: Callable[[str], str] = lambda s: s) -> None:
        self.config = config
        self.name = name
        self.log = logger
        self.redact = redact
        self.loop = LoopThread(f"nats-{name}")
        self.nc: Any = None
        self.js: Any = None
        self.last_error = ""
        self._last_logged: tuple[str, float] = ("", 0.0)
        self._lock = threading.Lock()
        self._closing = False
        self.servers = [display_url(u) for u in server_urls(config)]

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        return self.loop.call(coro, timeout)

    # ----------------------------------------------------------------- callbacks
    def _note(self, text: str, level: str = "warning", error: bool = True) -> None:
        """Log a connection event, at most once per 30 s for the same text (reconnect loops)."""
        text = self.redact(text)
        if error:
            self.last_error = text
        prev, when = self._last_logged
        now = time.monotonic()
        if text != prev or now - when > 30.0:
            self._last_logged = (text, now)
            getattr(self.log, level)("NATS {}: {}", self.name, text)

    async def _on_error(self, exc: Exception) -> None:
        self._note(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    async def _on_disconnected(self) -> None:
        if not self._closing:
            self._note("disconnected; reconnecting", error=False)

    async def _on_reconnected(self) -> None:
        url = self.nc.connected_url.geturl() if self.nc and self.nc.connected_url else "?"
        self._note(f"reconnected to {display_url(url)}", "info", error=False)

    # ----------------------------------------------------------------- lifecycle
    def connect(self) -> None:
        """Connect if not connected; afterwards the client reconnects by itself.

        :raises ConnectFailed: with a reason fit for logs (no secrets).
        """
        with self._lock:
            if self.nc is not None and not self.nc.is_closed:
                return
            self._closing = False
            self.loop.start()
            opts = connect_options(self.config, self.name)
            budget = float(self.config["connect_timeout_s"]) * len(opts["servers"]) + float(self.config["reconnect_wait_s"]) + 1.0
            try:
                self.nc, self.js = self.loop.call(self._connect(opts, budget), budget + 5.0)
            except ConnectFailed:
                raise
            except Exception as exc:  # noqa: BLE001 - reported as an outcome
                raise ConnectFailed(self.redact(f"{type(exc).__name__}: {exc}")) from None
            url = self.nc.connected_url.geturl() if self.nc.connected_url else "?"
            version = getattr(self.nc, "_server_info", {}).get("version", "?")
            self.log.info("NATS {}: connected to {} (nats-server {})", self.name, display_url(url), version)

    async def _connect(self, opts: dict[str, Any], budget: float) -> tuple[Any, Any]:
        import nats.aio.client
        import nats.errors

        nc = nats.aio.client.Client()
        self.last_error = ""
        refused = asyncio.Event()
        refusal: list[str] = []  # the server's refusal, kept: the connection reset that follows it is not the reason

        async def on_error(exc: Exception) -> None:
            await self._on_error(exc)
            if _is_auth_error(exc) and not nc.is_connected:
                refusal.append(self.last_error)
                refused.set()  # the server will refuse us at every attempt: say so now

        attempt = asyncio.ensure_future(nc.connect(**opts, error_cb=on_error, disconnected_cb=self._on_disconnected,
                                                   reconnected_cb=self._on_reconnected))
        waiter = asyncio.ensure_future(refused.wait())
        try:
            done, _ = await asyncio.wait({attempt, waiter}, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        failure: BaseException | None = None
        if attempt in done and not attempt.cancelled():
            failure = attempt.exception()
        else:
            attempt.cancel()
            await asyncio.gather(attempt, return_exceptions=True)
            failure = asyncio.TimeoutError()
        if failure is not None or not nc.is_connected:
            try:
                await nc.close()
            except Exception:  # noqa: BLE001
                pass
            last = (refusal[0] if refusal else self.last_error) or f"{type(failure).__name__}: {failure}"
            fatal = refused.is_set() or _is_auth_error(failure)
            raise ConnectFailed(f"cannot connect to {', '.join(self.servers)}: {self.redact(last)}", fatal)
        return nc, nc.jetstream(timeout=float(self.config["connect_timeout_s"]))

    def ensure_stream(self, stream: str, spec: dict[str, Any] | None, subject: str | None, timeout: float) -> None:
        """Create ``stream`` as ``spec`` describes when it does not exist.

        An existing stream is left as it is (another team may own it); when its
        subjects or replicas differ from ``spec`` a warning says so.

        :raises ConnectFailed: JetStream refused to create it (e.g. too few servers for the replicas).
        """
        if spec is None:
            return
        wanted = stream_config(stream, spec, subject)

        async def run() -> str:
            import nats.js.errors

            try:
                info = await self.js.stream_info(stream)
            except nats.js.errors.NotFoundError:
                await self.js.add_stream(wanted)
                return "created"
            have = info.config
            diffs = []
            if sorted(have.subjects or []) != sorted(wanted.subjects or []):
                diffs.append(f"subjects {have.subjects} (configured {wanted.subjects})")
            if (have.num_replicas or 1) != wanted.num_replicas:
                diffs.append(f"replicas {have.num_replicas} (configured {wanted.num_replicas})")
            return "; ".join(diffs)

        try:
            outcome = self.loop.call(run(), timeout)
        except Exception as exc:  # noqa: BLE001
            text = self.redact(f"{type(exc).__name__}: {getattr(exc, 'description', None) or exc}")
            raise ConnectFailed(f"cannot create stream {stream}: {text}", fatal=True) from None
        if outcome == "created":
            self.log.info("NATS {}: created stream {} (subjects {}, replicas {}, duplicate window {}s)", self.name, stream,
                          wanted.subjects, wanted.num_replicas, wanted.duplicate_window)
        elif outcome:
            self.log.warning("NATS {}: stream {} exists and differs from create_stream: {}; it is left unchanged",
                             self.name, stream, outcome)

    def close(self, timeout: float = 5.0) -> None:
        """Flush and close the client, then stop the loop thread. Idempotent."""
        with self._lock:
            self._closing = True
            nc, self.nc, self.js = self.nc, None, None
            if nc is not None and self.loop.running:
                try:
                    self.loop.call(nc.close(), timeout)
                except Exception:  # noqa: BLE001 - closing anyway
                    pass
            self.loop.stop(timeout)


def _is_auth_error(exc: BaseException | None) -> bool:
    """The server refused our credentials, or we refused its certificate: retrying the
    same configuration at once will not help, so the caller opens its circuit."""
    if exc is None:
        return False
    import ssl

    import nats.errors

    if isinstance(exc, ssl.SSLCertVerificationError):
        return True
    if isinstance(exc, (nats.errors.AuthorizationError, nats.errors.InvalidUserCredentialsError)):
        return True
    text = str(exc).lower()
    return "authorization violation" in text or "authentication" in text
