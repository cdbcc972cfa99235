#!/usr/bin/env python3
"""Scale-out benchmark: edge agent → NATS JetStream → relay agent(s) → file sink.

Each run starts a fresh ``nats-server -js`` (file storage, one replica) on loopback,
one or two relay agents (``nats`` source on one shared durable consumer → ``file``
sink) and one edge agent (``file`` source, json decoder → ``nats`` sink), all as
``siemrelay run`` subprocesses. It then drops N JSON lines (~800 bytes each,
security-finding shaped) into the edge's input directory and measures:

1. edge → JetStream: N / time until the stream holds N messages (publish acks included);
2. end to end: N / time until every event id is in the relays' output files;
3. relay drain: with the stream already full, the relays alone (fresh consumer),
   N / time from the consumers' binding until all N are in the relays' files.

Public tools only: Python, nats-server. Usage:
    python bench/nats_relay.py [--events 50000] [--relays 1 2] [--replicas 1|3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.peers.nats import NatsCluster, NatsServer, nats_server_version  # noqa: E402
from events import finding_line  # noqa: E402  (bench/ is on sys.path when a script runs)


def edge_config(work: Path, urls: list[str], replicas: int) -> Path:
    path = work / "edge.yaml"
    path.write_text(f"""
agent: {{state_dir: {work}/edge/state, log_level: warning, spool: {{sync: normal}}}}
sources:
  tail: {{type: file, paths: ["{work}/in/*.jsonl"], read_from: beginning, decoder: json}}
sinks:
  js:
    type: nats
    servers: {json.dumps(urls)}
    subject: siem.events.{{source}}
    stream: EVENTS
    create_stream: {{subjects: ["siem.events.>"], replicas: {replicas}}}
    batch: {{max_events: 1000, max_wait_s: 0.05}}
routes: [{{name: default, to: [js]}}]
""")
    return path


def relay_config(work: Path, name: str, urls: list[str], durable: str) -> Path:
    path = work / f"{name}.yaml"
    path.write_text(f"""
agent: {{state_dir: {work}/{name}/state, log_level: info, spool: {{sync: normal}}}}
sources:
  js: {{type: nats, servers: {json.dumps(urls)}, stream: EVENTS, durable: {durable}, fetch_batch: 512,
        max_ack_pending: 4096, fetch_wait_s: 0.5}}
sinks:
  out: {{type: file, path: {work}/{name}/out.jsonl, fsync: false, batch: {{max_events: 2000, max_wait_s: 0.05}}}}
routes: [{{name: default, to: [out]}}]
""")
    return path


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "agent", "--log-format", "json", "run", "-c", str(config)],
                            env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait(pred, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def count_lines(files: list[Path]) -> int:
    n = 0
    for f in files:
        if f.exists():
            with open(f, "rb") as fh:
                n += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return n


def stream_messages(urls: list[str]) -> int:
    import nats

    async def main() -> int:
        nc = await nats.connect(urls)
        try:
            return (await nc.jetstream().stream_info("EVENTS")).state.messages
        except Exception:  # noqa: BLE001 - not created yet
            return 0
        finally:
            await nc.close()

    return asyncio.run(main())


def run(events: int, relays: int, replicas: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="siemrelay-nats-bench-") as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        servers = NatsCluster(work / "nats") if replicas > 1 else NatsServer(work / "nats")
        servers.start()
        urls = servers.urls if isinstance(servers, NatsCluster) else [servers.url]
        procs: list[subprocess.Popen[bytes]] = []
        try:
            names = [f"relay{i}" for i in range(relays)]
            outs = [work / n / "out.jsonl" for n in names]
            edge = start(edge_config(work, urls, replicas), work / "edge.log")
            procs.append(edge)
            wait(lambda: (work / "edge" / "state").exists(), 30, "the edge")
            for n in names:
                procs.append(start(relay_config(work, n, urls, "pool"), work / f"{n}.log"))
            time.sleep(0.5)
            data = b"".join(finding_line(i) for i in range(events))
            (work / "in" / "tmp").write_bytes(data)
            t0 = time.monotonic()
            os.rename(work / "in" / "tmp", work / "in" / "events.jsonl")
            wait(lambda: stream_messages(urls) >= events, 600, "the stream to hold every event")
            t_stream = time.monotonic() - t0
            wait(lambda: count_lines(outs) >= events, 600, "every event in the relays' files")
            t_e2e = time.monotonic() - t0
            split = [count_lines([o]) for o in outs]
            # drain: a fresh consumer group on the full stream
            stop(procs[1:])
            del procs[1:]
            outs2 = [work / f"d{n}" / "out.jsonl" for n in names]
            t1 = time.monotonic()
            for n in names:
                procs.append(start(relay_config(work, f"d{n}", urls, "drain"), work / f"d{n}.log"))
            wait(lambda: all("consuming stream" in (work / f"d{n}.log").read_text(errors="replace") for n in names), 60,
                 "the relays to bind")
            t_bound = time.monotonic()
            wait(lambda: count_lines(outs2) >= events, 600, "the drain")
            t_drain = time.monotonic() - t_bound
            startup = t_bound - t1
        finally:
            stop(procs)
            servers.stop()
    return {"edge_to_stream": events / t_stream, "end_to_end": events / t_e2e, "drain": events / t_drain,
            "relay_startup_s": startup, "split": split}  # type: ignore[dict-item]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=50000)
    ap.add_argument("--relays", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--replicas", type=int, default=1, choices=[1, 3])
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"nats-server {nats_server_version()}; {args.events} events of ~{len(finding_line(0))} bytes, "
          f"stream replicas {args.replicas}")
    for k in args.relays:
        r = run(args.events, k, args.replicas)
        print(f"relays={k}: edge->JetStream {r['edge_to_stream']:8.0f} ev/s | end to end {r['end_to_end']:8.0f} ev/s | "
              f"relay drain {r['drain']:8.0f} ev/s | split {r['split']}")


if __name__ == "__main__":
    main()
