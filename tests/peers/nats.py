"""Run real ``nats-server`` processes (Debian's package) with JetStream for tests.

:class:`NatsServer` is one server; :class:`NatsCluster` is three of them routed to
each other on loopback, so a stream with three replicas survives one node being
killed. Every server gets its own free ports (client, cluster, monitoring) and its
own JetStream store under the test's temporary directory, and is always stopped
(SIGTERM, then SIGKILL), so no process outlives the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Sequence

import pytest

from tests.peers.process import stop_process_group
from tests.ports import pick_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"

__all__ = ["NATS_SERVER", "NatsServer", "NatsCluster", "nats_server_version", "js_run", "nats_server", "nats_cluster",
           "OperatorAuth"]


def nats_server_version() -> str:
    """The installed server's version (``2.9.10``), or ``""`` when it is missing."""
    try:
        out = subprocess.run([NATS_SERVER, "--version"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return ""
    return out.strip().rsplit("v", 1)[-1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=1.0) as resp:  # noqa: S310 - loopback only
        return json.loads(resp.read())


class NatsServer:
    """One ``nats-server -js`` process; ``start()``/``stop()`` or a context manager.

    :param workdir: directory for the configuration, the JetStream store and the log.
    :param name: the server name (unique in a cluster).
    :param extra: configuration text appended as is (authorization, tls, ...).
    """

    def __init__(self, workdir: Path, name: str = "n1", *, port: int | None = None, cluster_port: int | None = None,
                 routes: Sequence[int] = (), cluster_name: str = "siemrelay-test", extra: str = "") -> None:
        self.workdir = Path(workdir) / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self._own_port = port is None  # picked here, so it may be picked again if another process took it
        self.port = port or pick_port()
        self.http_port = pick_port()
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.cluster_name = cluster_name
        self.extra = extra
        self.conf = self.workdir / "nats.conf"
        self.log = self.workdir / "nats.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _config(self) -> str:
        store = self.workdir / "jetstream"
        text = (f'server_name: "{self.name}"\nlisten: "127.0.0.1:{self.port}"\nhttp: "127.0.0.1:{self.http_port}"\n'
                f'jetstream {{\n  store_dir: "{store}"\n  max_memory_store: 64MB\n  max_file_store: 1GB\n}}\n')
        if self.cluster_port:
            routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in self.routes if p != self.cluster_port)
            text += (f'cluster {{\n  name: "{self.cluster_name}"\n  listen: "127.0.0.1:{self.cluster_port}"\n'
                     f'  routes: [{routes}]\n}}\n')
        return text + self.extra

    def start(self, timeout: float = 15.0, wait_ready: bool = True) -> "NatsServer":
        """Start and wait until it listens (and JetStream is ready).

        A free port is only free until someone binds it: when another process took one
        of the ports picked here between picking and binding, fresh ones are picked.
        """
        if self.alive:  # a second start would orphan the first process (`with X.start() as x`)
            raise RuntimeError(f"nats-server {self.name} is already running; use either start() or `with`")
        for attempt in range(3):
            try:
                return self._start(timeout, wait_ready)
            except RuntimeError as exc:
                self.stop()
                if attempt == 2 or "address already in use" not in str(exc).lower():
                    raise
                self.http_port = pick_port()
                if self._own_port:
                    self.port = pick_port()
        raise AssertionError("unreachable")

    def _start(self, timeout: float, wait_ready: bool) -> "NatsServer":
        self.conf.write_text(self._config(), encoding="utf-8")
        if self.log.exists():
            self.log.rename(self.log.with_suffix(f".{int(time.time() * 1000)}.log"))  # output() shows this run only
        self._out = open(self.log, "ab")
        self.proc = subprocess.Popen([NATS_SERVER, "-c", str(self.conf)], stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self._listening():
            self._check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nats-server {self.name} did not listen on {self.port}:\n{self.output()}")
            time.sleep(0.05)
        if wait_ready:
            self.wait_jetstream(max(1.0, deadline - time.monotonic()))
        return self

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"nats-server {self.name} exited with {self.proc.returncode}:\n{self.output()}")

    def jetstream_ready(self) -> bool:
        """True when ``/healthz`` says JetStream is current (in a cluster: has a meta leader)."""
        try:
            return _get_json(f"http://127.0.0.1:{self.http_port}/healthz").get("status") == "ok"
        except (OSError, ValueError):
            return False

    def wait_jetstream(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.jetstream_ready():
            self._check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"nats-server {self.name}: JetStream not ready after {timeout}s:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the node dies mid-stream, as in a crash."""
        if self.alive:
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            stop_process_group(self.proc)
        if hasattr(self, "_out"):
            self._out.close()
            del self._out

    def __enter__(self) -> "NatsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class NatsCluster:
    """Three JetStream servers routed to each other on loopback."""

    def __init__(self, workdir: Path, size: int = 3, cluster_name: str = "siemrelay-test") -> None:
        cluster_ports = [pick_port() for _ in range(size)]
        self.nodes = [NatsServer(workdir, f"n{i + 1}", cluster_port=cp, routes=cluster_ports, cluster_name=cluster_name)
                      for i, cp in enumerate(cluster_ports)]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def start(self, timeout: float = 30.0) -> "NatsCluster":
        try:
            for node in self.nodes:
                node.start(timeout, wait_ready=False)
            deadline = time.monotonic() + timeout
            for node in self.nodes:
                node.wait_jetstream(max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> "NatsCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def js_run(servers: str | Sequence[str], fn: Callable[[Any, Any], Awaitable[Any]], timeout: float = 20.0,
           **connect: Any) -> Any:
    """Connect a throw-away client, run ``await fn(js, nc)``, close, return its result.

    For tests that look at what a stream holds, or prepare one, from ordinary code.
    """
    import nats

    async def main() -> Any:
        nc = await nats.connect(servers if isinstance(servers, str) else list(servers), connect_timeout=2,
                                max_reconnect_attempts=5, reconnect_time_wait=0.2, **connect)
        try:
            return await fn(nc.jetstream(timeout=5), nc)
        finally:
            await nc.close()

    return asyncio.run(asyncio.wait_for(main(), timeout))


class OperatorAuth:
    """Decentralised (operator mode) authentication made offline, as ``nsc`` would.

    An operator, a system account, an account with JetStream enabled and a user, each
    with its own NKey; the JWTs are signed here with the ``nkeys`` package (ed25519,
    ``alg: ed25519-nkey``). :attr:`config` is the server configuration text (memory
    resolver preloaded with both accounts); :meth:`creds` writes a ``.creds`` file for a
    user of the trusted account, or (``trusted=False``) of an account the operator never
    signed, which the server refuses.
    """

    _LIMITS = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": True, "conn": -1,
               "leaf": -1}

    def __init__(self) -> None:
        import nkeys

        self._nkeys = nkeys
        self.operator = self._keypair(nkeys.PREFIX_BYTE_OPERATOR)
        self.system = self._keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        self.account = self._keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        op_kp, sys_pub, acc_pub = self.operator[1], self.system[2], self.account[2]
        self.operator_jwt = self._jwt(op_kp, self.operator[2], "siemrelay-test",
                                      {"type": "operator", "version": 2, "system_account": sys_pub})
        sys_jwt = self._jwt(op_kp, sys_pub, "SYS", {"limits": self._LIMITS, "type": "account", "version": 2})
        js_limits = {**self._LIMITS, "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}
        acc_jwt = self._jwt(op_kp, acc_pub, "EVENTS", {"limits": js_limits, "type": "account", "version": 2})
        self.config = (f'operator: "{self.operator_jwt}"\nsystem_account: {sys_pub}\nresolver: MEMORY\n'
                       f'resolver_preload: {{\n  {sys_pub}: "{sys_jwt}"\n  {acc_pub}: "{acc_jwt}"\n}}\n')

    def _keypair(self, prefix: int) -> tuple[bytes, Any, str]:
        seed = self._nkeys.encode_seed(os.urandom(32), prefix)
        kp = self._nkeys.from_seed(seed)
        return seed, kp, kp.public_key.decode()

    @staticmethod
    def _jwt(signer: Any, subject: str, name: str, nats_claims: dict[str, Any]) -> str:
        import base64
        import hashlib

        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        claims: dict[str, Any] = {"iat": int(time.time()), "iss": signer.public_key.decode(), "name": name,
                                  "sub": subject, "nats": nats_claims}
        digest = hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest()
        claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
        header = b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
        payload = b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{payload}.{b64(signer.sign(f'{header}.{payload}'.encode()))}"

    def creds(self, path: Path, trusted: bool = True) -> str:
        """Write a user's credentials file (user JWT and NKey seed) to ``path``; return the user's seed."""
        issuer = self.account if trusted else self._keypair(self._nkeys.PREFIX_BYTE_ACCOUNT)
        seed, _, public = self._keypair(self._nkeys.PREFIX_BYTE_USER)
        user_jwt = self._jwt(issuer[1], public, "relay", {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                                                           "type": "user", "version": 2})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
                        f"-----BEGIN USER NKEY SEED-----\n{seed.decode()}\n------END USER NKEY SEED------\n",
                        encoding="utf-8")
        path.chmod(0o600)
        return seed.decode()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """One JetStream server on a free loopback port, stopped at teardown."""
    server = NatsServer(tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three JetStream servers routed on loopback, stopped at teardown."""
    cluster = NatsCluster(tmp_path / "nats").start()
    try:
        yield cluster
    finally:
        cluster.stop()
