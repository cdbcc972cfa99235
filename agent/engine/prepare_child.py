"""The preparing child: a process that decodes, routes and serialises batches for the intake.

The agent's threads share one interpreter lock, so decoding (the json decoder, the
event model) and serialising the native JSON compete for one core with the spool
writer and the sink workers. With ``agent.intake.processes`` set, the agent hands raw
batches to children like this one (:mod:`agent.engine.prepare_pool` is the agent's side)
and receives what :meth:`agent.engine.intake.Intake.prepare` returns: the spool rows
(sink mask, native JSON), dead letters, failures, event ids and counts. Spooling,
acknowledgement, de-duplication against the window, stats and taps stay in the agent.

The child is a fresh interpreter (never a fork of the threaded agent), started by
:func:`agent.processes.launch.start_child`. It builds what ``prepare`` needs from a
:class:`PrepareRecipe` (the validated routes, the spool's sink bits, the plugins that
register decoders) and each decoder from its :class:`~agent.engine.decoder_key.DecoderKey`,
with the same factory as the agent, so the same batch gives the same rows here as in the
agent (a property test holds the two equal). It ends when the agent's end of the pipe
closes: on close, reload or SIGKILL of the agent; on Linux it also asks the kernel for
SIGKILL when the agent dies.

Messages, agent → child: ``("config", recipe)``, ``("batch", seq, keys, records, dedup, heads_for)`` (the sinks whose heads the agent keeps).
Child → agent: ``("ready", pid)``, ``("done", seq, result)``, ``("refused", seq, reason)``
(a decoder it cannot build: the agent prepares that batch itself), ``("failed", seq,
traceback)`` (a bug in ``prepare``: the agent prepares it itself, and says so).
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable, cast

import orjson

from agent.engine.decoder_key import DecoderKey
from agent.registry import RegistryError
from agent.processes.channel import ChildChannel, pickled
from agent.sdk.record import RawRecord

if TYPE_CHECKING:
    from agent.engine.build import DecoderFactory
    from agent.engine.intake import Intake, PreparedBatch
    from agent.sdk.heads import HeadRenderer
    from agent.sdk.decoder import Decoder
    from agent.spool.store import Spool

__all__ = ["PrepareRecipe", "PreparedResult", "WireRecord", "child_main"]

#: one record on the pipe: data, index of its decoder's key in the batch's key list,
#: origin, received_at, parsed (the JSON value a source already parsed, or None), meta
WireRecord = tuple[bytes, int, dict[str, object], datetime, object, dict[str, object]]

#: what comes back per batch: the prepared batch, and the log lines the child's intake
#: wrote meanwhile as (level, text)
PreparedResult = tuple["PreparedBatch", list[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class PrepareRecipe:
    """What a child needs to prepare batches exactly as the agent's intake would (picklable).

    :ivar routes: the validated route sections (defaults filled), in order.
    :ivar sinks: the enabled sinks' names (what routes may send to).
    :ivar bits: the spool's bit per sink (the sink masks of the rows).
    :ivar dedup_window_s: ``agent.dedup.window_s`` (0: de-duplication is off).
    :ivar dedup_max_ids: ``agent.dedup.max_ids``.
    :ivar plugins: the plugins that register decoder types (the child loads only these).
    :ivar renderers: the head renderers of the sinks that have one, by sink name.
    """

    routes: list[dict[str, object]]
    sinks: tuple[str, ...]
    bits: dict[str, int]
    dedup_window_s: float
    dedup_max_ids: int
    plugins: tuple[str, ...] = field(default=())
    renderers: dict[str, "HeadRenderer"] = field(default_factory=dict)


class _SinkBits:
    """The one thing :class:`Intake` reads of its spool to prepare a batch: the sink bits."""

    def __init__(self, bits: dict[str, int]) -> None:
        self.sinks = bits


class LineLog:
    """The child intake's log: each line kept as ``(level, text)``, to go back with the
    batch and be written by the agent's logger.

    The agent's intake logs through loguru; here that would load loguru and, through it,
    ``asyncio`` and OpenSSL (about 6 MB of the child's RSS, docs/hot-path.md section 16)
    to format the two or three lines a decoder failure writes. The text is what loguru's
    ``{message}`` would be: the message formatted with its arguments, and a logged
    exception's traceback after it.
    """

    __slots__ = ("lines", "_exception")

    def __init__(self, lines: list[tuple[str, str]] | None = None, exception: BaseException | None = None) -> None:
        self.lines: list[tuple[str, str]] = [] if lines is None else lines
        self._exception = exception

    def log(self, level: str, message: str, /, *args: object) -> None:
        text = message.format(*args) if args else message
        if self._exception is not None:
            text += "\n" + "".join(traceback.format_exception(self._exception)).rstrip("\n")
        self.lines.append((level, text))

    def warning(self, message: str, /, *args: object) -> None:
        self.log("WARNING", message, *args)

    def error(self, message: str, /, *args: object) -> None:
        self.log("ERROR", message, *args)

    def opt(self, *, exception: BaseException) -> "LineLog":
        """The same log, adding ``exception``'s traceback to the next line."""
        return LineLog(self.lines, exception)


class _Preparer:
    """The child's intake (never spools), its decoders by key, and the log lines it wrote."""

    def __init__(self, recipe: PrepareRecipe) -> None:
        from agent.plugins import DEFAULT_PLUGINS, load_plugins

        self.log = LineLog()
        allow = recipe.plugins or None
        # the entry points are read (importlib.metadata) only when a decoder comes from a third-party plugin
        third_party = allow is None or any(name not in DEFAULT_PLUGINS for name in allow)
        self.plugins = load_plugins(entry_points=third_party, allow=allow, kinds=("decoder",))
        if "loguru" in sys.modules:  # a decoder plugin logs through loguru: its lines go back with the batch too
            from loguru import logger

            logger.remove()
            logger.add(self._keep, level="WARNING", format="{message}", backtrace=False, diagnose=False)
        self._factory: DecoderFactory | None = None
        self.decoders: dict[DecoderKey, Decoder] = {}
        self.intake = self._intake(recipe)

    def _keep(self, message: object) -> None:
        # loguru hands its sink a str subclass whose .record holds the level and exception
        record = getattr(message, "record", None)
        level = record["level"].name if record is not None else "WARNING"
        self.log.lines.append((level, str(message).rstrip("\n")))

    def _intake(self, recipe: PrepareRecipe) -> "Intake":
        from agent.engine.dedup import DedupWindow
        from agent.engine.intake import Intake
        from agent.errors import ConfigError, Problem
        from agent.routing.router import compile_routes
        from agent.yamlsource import SourceMap

        problems: list[Problem] = []
        named = {str(t) for r in recipe.routes for t in cast("list[object]", r.get("to") or [])}
        router = compile_routes(recipe.routes, set(recipe.sinks), SourceMap(), problems, named - set(recipe.sinks))
        if problems:
            raise ConfigError(problems)
        # the window stays empty here: the child drops only duplicates within a batch and
        # returns every id; the agent checks them against its own window before spooling
        dedup = DedupWindow(recipe.dedup_window_s, recipe.dedup_max_ids)
        intake = Intake(cast("Spool", _SinkBits(dict(recipe.bits))), router, self.log, dedup)
        intake.set_heads(recipe.renderers, {})  # heads go back with the batch; the agent keeps them
        return intake

    def configure(self, recipe: PrepareRecipe) -> None:
        """New routes or sink bits (reload): later batches are prepared with them."""
        self.intake = self._intake(recipe)
        self.decoders.clear()

    def decoder(self, key: DecoderKey) -> "Decoder":
        decoder = self.decoders.get(key)
        if decoder is None:
            decoder = self.decoders[key] = self._validated(key) or self._build(key.spec, key.path)
        return decoder

    def _validated(self, key: DecoderKey) -> "Decoder | None":
        """The decoder built from the settings the agent validated, as the agent's factory
        builds it from them; None when the key carries none or its type is not loaded here."""
        if key.settings is None:
            return None
        ct = self.plugins.registry.get("decoder", str(key.spec.get("type")))
        if ct is None:
            return None
        try:
            cls = ct.load()
        except RegistryError:
            return None  # the factory reports it
        decoder: Decoder = cls(orjson.loads(orjson.dumps(key.settings)))  # its own copy: a decoder may keep it
        decoder.use_decoders(lambda name: self._build({"type": name}, key.path))  # `auto`'s delegates, validated here
        return decoder

    def _build(self, spec: dict[str, object], path: tuple[str | int, ...]) -> "Decoder":
        """A decoder through the agent's factory, which validates its settings (with cerberus,
        imported then: a child whose decoders all came validated never loads it)."""
        if self._factory is None:
            from agent.engine.build import DecoderFactory
            from agent.yamlsource import SourceMap

            self._factory = DecoderFactory(self.plugins, {}, SourceMap())
        return self._factory(spec, path)

    def prepare(self, keys: list[DecoderKey], records: list[WireRecord], dedup: bool, shared_only: bool = False,
                heads_for: tuple[str, ...] | None = None) -> PreparedResult:
        """:param heads_for: the sinks whose heads the agent will keep (None: every sink's)."""
        decoders = [self.decoder(k) for k in keys]
        raw = [RawRecord(data, decoders[k], origin, at, parsed, meta) for data, k, origin, at, parsed, meta in records]
        self.log.lines = []
        return self.intake.prepare(raw, dedup=dedup, shared_only=shared_only, heads_for=heads_for), self.log.lines


def _die_with_parent() -> None:
    """Ask Linux for SIGKILL when the agent dies (the closed pipe says so too, but only once
    the child reads it; this also ends a child busy in a long batch)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _Sender:
    """Writes the child's answers on a thread of its own.

    Writing a prepared batch (about 1.5 MB for a tail's 2,000 lines) takes as long as
    the agent's collector thread needs to read it, and that thread competes for the
    agent's interpreter lock with the spool writer, the tail and the sink workers. On
    the child's main thread that wait kept the child from starting the next batch (23 %
    of its busy samples, py-spy on the side-by-side workload); here it overlaps with
    preparing the next one. At most ``depth`` answers wait, so a stalled agent still
    stops the child (the agent's own flow control is the pool's batches in flight).
    Answers go in the order they were put.
    """

    def __init__(self, conn: ChildChannel, depth: int = 2) -> None:
        self.conn = conn
        self.queue: queue.Queue[bytes | memoryview] = queue.Queue(maxsize=depth)
        self.broken = threading.Event()  # a write failed: the agent is gone
        self.thread = threading.Thread(target=self._run, name="prepare-sender", daemon=True)
        self.thread.start()

    def put(self, message: object) -> None:
        """Pickle ``message`` here (a pickling error raises to the caller) and queue it.

        :raises OSError: the agent's end is closed (an earlier write failed).
        """
        buf = pickled(message)
        while not self.broken.is_set():
            try:
                self.queue.put(buf, timeout=0.5)
                return
            except queue.Full:
                continue
        raise OSError("the agent's end of the pipe is closed")

    def _run(self) -> None:
        while True:
            buf = self.queue.get()
            try:
                self.conn.send_bytes(buf)
            except (OSError, ValueError):
                self.broken.set()
                return


class SpareTime:
    """Whether this child has time to spare: the share of its recent wall time not spent working.

    Heads rendered ahead (:mod:`agent.sdk.heads`) move a sink's per-event work from the
    agent to this process. A head several sinks share (a fan-out to collectors alike) is
    always worth it: one rendering here saves the agent one per sink. A head of one sink
    only moves work, which on two cores pays only while this process waits for work,
    since the busier process sets the pace. Measured on the file workload: rendering every
    head here made this process the busier one (49 against 27 µs per event); rendering a
    single sink's heads only while this thread was idle at least 10 % of the time still
    left it the busier one (the tail thread waited on the pipe to it), and 30 % gave
    +20 % events/s (5 interleaved pairs, B ahead in all); rendering shared heads only
    while idle cost the 4-sink fan-out half its rate (0.79 → 0.37-0.55 of one sink). So
    a batch gets all its heads while this thread's CPU time was under ``1 - share`` of
    the wall time of its recent batches (moving averages; waiting for a batch, or for
    the agent to take an answer, is not CPU time), and otherwise the shared ones only;
    the sinks render the rest in the agent.

    :param clock: wall time; :param cpu: this thread's CPU time (injected for tests).
    """

    def __init__(self, share: float = 0.3, weight: float = 0.2, clock: Callable[[], float] = time.monotonic,
                 cpu: Callable[[], float] = time.thread_time) -> None:
        self.share = share
        self.weight = weight
        self.clock = clock
        self.cpu = cpu
        self.wall_avg = 0.0
        self.cpu_avg = 0.0
        self._wall = clock()
        self._cpu = cpu()

    def tick(self) -> None:
        """A batch is done: add the wall and CPU time since the last one."""
        wall, cpu = self.clock(), self.cpu()
        w = self.weight
        self.wall_avg += w * (wall - self._wall - self.wall_avg)
        self.cpu_avg += w * (cpu - self._cpu - self.cpu_avg)
        self._wall, self._cpu = wall, cpu

    def to_spare(self) -> bool:
        """Whether the next batch may take on every head, not only shared ones (yes until a batch was measured)."""
        return self.wall_avg - self.cpu_avg >= self.share * self.wall_avg


def child_main(conn: ChildChannel, recipe: PrepareRecipe, parent: int) -> None:
    """The child's loop: build the preparer, then answer batches until the pipe closes."""
    _die_with_parent()
    if os.getppid() != parent:  # the agent died before the request above took effect
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # the agent decides when this child ends (it closes the pipe)
    import gc

    preparer = _Preparer(recipe)
    # as tune_garbage_collector does in the agent: rare collections, start-up objects frozen
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        conn.send(("ready", os.getpid()))
    except OSError:
        return  # closed before this child was ready (a close or reload during start-up)
    sender = _Sender(conn)
    spare = SpareTime()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the agent closed its end, or died: end with it
        if message[0] == "config":
            preparer.configure(message[1])
            continue
        _, seq, keys, records, dedup, heads_for = message
        try:
            try:
                sender.put(("done", seq, preparer.prepare(keys, records, dedup, shared_only=not spare.to_spare(),
                                                          heads_for=heads_for)))
                spare.tick()
            except (OSError, EOFError):
                raise
            except Exception as exc:
                from agent.errors import ConfigError

                if isinstance(exc, ConfigError):  # a decoder this child cannot build
                    sender.put(("refused", seq, str(exc)))
                else:  # a bug, or a result pickle refuses: the agent prepares this batch itself
                    sender.put(("failed", seq, traceback.format_exc()))
        except (OSError, EOFError):
            return
