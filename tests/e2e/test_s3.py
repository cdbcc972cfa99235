"""``s3`` and ``security_lake`` sinks through the whole agent (a subprocess: HTTP source →
decoder → spool → worker → sink) against a real S3 API: moto in server mode on loopback
(tests/peers/s3.py), with faults injected at that peer.

Proves: objects land under the documented keys; Security Lake objects read back with
pyarrow are valid OCSF (the independent OCSF JSON schema) with one class per object;
S3 503 SlowDown / 500 and a stopped S3 are retried and delivered later; a kill -9
between the roll and S3's confirmation loses nothing, and the re-upload overwrites
the same key; bad credentials and a missing bucket open the circuit and keep the events;
``siemrelay send-test`` writes an object.
"""

from __future__ import annotations

import gzip
import io
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import jsonschema
import orjson
import pyarrow.parquet as pq
import pytest
import requests
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from agent.sdk.ocsf import OCSF_VERSION
from agent.testing import make_record
from tests.peers.decoder_factory import build_decoder
from tests.conftest import pick_port, run_cli, wait_for, wait_for_port
from tests.peers.s3 import ACCESS_KEY, REGION, SECRET_KEY, MotoS3, S3Faults

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
LAKE = "aws-security-data-lake-us-east-1-siemrelay"
BUCKET = "security-events"
_OCSF = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))


def config(tmp_path: Path, port: int, sink: str, *, admin: int | None = None) -> Path:
    path = tmp_path / "siemrelay.yaml"
    admin_line = f'\n  admin: {{enabled: true, address: "127.0.0.1:{admin}"}}' if admin else ""
    path.write_text(f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 3
  spool: {{sync: normal}}{admin_line}
sources:
  web:
    type: http
    address: "127.0.0.1:{port}"
    paths:
      /events: {{decoder: json}}
      /hooks: {{decoder: auto}}
sinks:
  out:
{sink}
    retry: {{jitter: none, initial_backoff_s: 0.2, multiplier: 2, max_backoff_s: 0.5, timeout_s: 3}}
    circuit_breaker: {{failure_threshold: 100, cooldown_s: 1}}
routes:
  - {{name: all, to: [out]}}
""")
    return path


def s3_sink(url: str, extra: str = "", *, keys: bool = True, max_events: int = 1000, wait_s: float = 0.5) -> str:
    creds = f'\n    access_key_id: "{ACCESS_KEY}"\n    secret_access_key: "{SECRET_KEY}"' if keys else ""
    return (f'    type: s3\n    bucket: {BUCKET}\n    region: {REGION}\n    endpoint_url: "{url}"\n    path_style: true'
            f'{creds}\n    batch: {{max_events: {max_events}, max_bytes: 67108864, max_wait_s: {wait_s}}}{extra}')


def lake_sink(url: str) -> str:
    return (f'    type: security_lake\n    bucket: {LAKE}\n    region: {REGION}\n    endpoint_url: "{url}"\n'
            f'    path_style: true\n    access_key_id: "{ACCESS_KEY}"\n    secret_access_key: "{SECRET_KEY}"\n'
            f'    source_name: "siemrelay-{{{{ class_name }}}}"\n    account_id: "123456789012"\n'
            f'    batch: {{max_events: 1000, max_wait_s: 1}}')


def native(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"ev-{i}", "time": "2025-01-15T14:30:00Z", "received_at": "2025-01-15T14:30:01Z",
            "source": "zeropath", "type": "finding.new", "severity": "high", "severity_id": 4,
            "title": f"finding {i}", "finding": {"cvss": 7.5}, **fields}


def post(port: int, events: list[dict[str, Any]]) -> None:
    answer = requests.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(events),
                           headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 200, answer.text


def jsonl_ids(objects: dict[str, bytes]) -> list[str]:
    """Every event id in the JSON-lines objects, with repeats."""
    ids = []
    for key, body in objects.items():
        data = gzip.decompress(body) if key.endswith(".gz") else body
        ids += [orjson.loads(line)["id"] for line in data.splitlines()]
    return ids


def ocsf_problems(row: dict[str, Any]) -> list[str]:
    name = _OCSF.lookup_class_name_from_uid(class_uid=row["class_uid"])
    validator = jsonschema.Draft202012Validator(_OCSF.get_class_schema(class_name=name, profiles=[]))
    return [f"{'.'.join(map(str, e.path))}: {e.message[:160]}" for e in validator.iter_errors(row)]


def drop_nulls(value: Any) -> Any:
    """A Parquet row as the JSON it was: struct fields an event lacked read back as null."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def fixture_events() -> list[Any]:
    auto = build_decoder({"type": "auto", "unknown_json": "json", "unknown_text": "raw"})
    return [e for path in sorted(FIXTURES.glob("*/*")) if path.suffix in (".json", ".cef")
            for e in auto.decode(make_record(path.read_bytes(), auto))]


@pytest.fixture
def moto(tmp_path: Path) -> Any:
    with MotoS3(tmp_path) as server:
        yield server


def test_security_lake_objects_are_valid_ocsf_parquet_one_class_each(tmp_path: Path, moto: MotoS3,
                                                                     agent_process: Callable[..., Any]) -> None:
    moto.create_bucket(LAKE)
    port = pick_port()
    agent = agent_process(config(tmp_path, port, lake_sink(moto.url)))
    wait_for_port(port)
    expected = fixture_events()
    for path in sorted(FIXTURES.glob("*/*")):
        if path.suffix in (".json", ".cef"):
            answer = requests.post(f"http://127.0.0.1:{port}/hooks", data=path.read_bytes(), timeout=10)
            assert answer.status_code == 200, (path, answer.text)

    def rows_landed() -> dict[str, bytes] | None:
        objects = moto.objects(LAKE)
        total = sum(pq.read_metadata(io.BytesIO(b)).num_rows for b in objects.values())
        return objects if total >= len(expected) else None

    objects = wait_for(rows_landed, 30, interval=0.3, what=f"{len(expected)} OCSF rows in Security Lake")
    layout = re.compile(r"^ext/siemrelay-([a-z_]+)/region=us-east-1/accountId=123456789012/eventDay=(\d{8})/"
                        r"(\d+)-\d{16}-[0-9a-f]{12}\.parquet$")
    seen: list[str] = []
    classes = set()
    for key, body in objects.items():
        match = layout.match(key)
        assert match, key
        rows = [drop_nulls(r) for r in pq.read_table(io.BytesIO(body)).to_pylist()]
        [uid] = {r["class_uid"] for r in rows}  # one OCSF class per object
        classes.add(uid)
        assert int(match.group(3)) == uid
        assert match.group(1) == rows[0]["class_name"].lower().replace(" ", "_")
        for row in rows:
            assert ocsf_problems(row) == [], (key, row["metadata"]["uid"])
            day = datetime.fromtimestamp(row["time"] / 1000, timezone.utc).strftime("%Y%m%d")
            assert day == match.group(2)
        assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)  # sorted by time, as Security Lake asks
        seen += [r["metadata"]["uid"] for r in rows]
    assert sorted(seen) == sorted(e.id for e in expected)  # every event once
    assert classes == {2002, 2004, 6007, 3004, 5001, 4001, 0}  # 4001: the FortiGate deny
    assert agent.stop() == 0


def test_s3_jsonl_keys_gzip_and_the_credential_chain(tmp_path: Path, moto: MotoS3,
                                                     agent_process: Callable[..., Any]) -> None:
    moto.create_bucket(BUCKET)
    port = pick_port()
    # no keys in the config: boto3's chain finds them in the environment
    agent = agent_process(config(tmp_path, port, s3_sink(moto.url, keys=False)),
                          env={"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY})
    wait_for_port(port)
    events = [native(i) for i in range(3)] + [native(3, source="detectify", time="2025-02-01T23:59:59+00:00")]
    post(port, events)
    objects = wait_for(lambda: (o := moto.objects(BUCKET)) and len(jsonl_ids(o)) >= 4 and o, 20, interval=0.2,
                       what="four events in S3")
    keys = sorted(objects)
    assert [re.sub(r"/\d{16}-[0-9a-f]{12}\.jsonl\.gz$", "/ID", k) for k in keys] == [
        "siemrelay/detectify/2025/02/01/ID", "siemrelay/zeropath/2025/01/15/ID"]
    assert sorted(jsonl_ids(objects)) == ["ev-0", "ev-1", "ev-2", "ev-3"]
    zeropath = [orjson.loads(line) for line in gzip.decompress(objects[keys[1]]).splitlines()]
    assert zeropath[0] == {**events[0], "description": "", "tags": []} | {k: zeropath[0][k] for k in zeropath[0]
                                                                       if k not in events[0]}
    head = moto.head(BUCKET, keys[1])
    assert head["ContentEncoding"] == "gzip" and head["ContentType"] == "application/x-ndjson"
    assert agent.stop() == 0


def test_large_objects_go_up_in_parts(tmp_path: Path, moto: MotoS3, agent_process: Callable[..., Any]) -> None:
    moto.create_bucket(BUCKET)
    port = pick_port()
    extra = "\n    gzip: false\n    multipart_threshold_bytes: 5242880\n    part_size_bytes: 5242880"
    agent = agent_process(config(tmp_path, port, s3_sink(moto.url, extra, max_events=7000, wait_s=5)))
    wait_for_port(port)
    filler = "x" * 900
    for start in range(0, 7000, 1000):
        post(port, [native(i, description=filler) for i in range(start, start + 1000)])
    objects = wait_for(lambda: moto.objects(BUCKET) or None, 30, interval=0.3, what="the large object")
    [(key, body)] = objects.items()
    assert len(body) > 5 << 20
    assert moto.head(BUCKET, key)["ETag"].strip('"').endswith("-2")  # an ETag of a two-part upload
    assert jsonl_ids(objects) == [f"ev-{i}" for i in range(7000)]
    assert agent.stop() == 0


def test_slowdown_and_internal_errors_are_retried_then_delivered(tmp_path: Path, moto: MotoS3,
                                                                 agent_process: Callable[..., Any]) -> None:
    moto.create_bucket(BUCKET)
    with S3Faults(moto.port) as faults:
        faults.fail_next(2, 503, "SlowDown", retry_after="1")
        faults.fail_next(1, 500, "InternalError")
        port = pick_port()
        agent = agent_process(config(tmp_path, port, s3_sink(faults.url, extra="\n    format: parquet\n    schema: ecs")))
        wait_for_port(port)
        post(port, [native(i) for i in range(5)])
        objects = wait_for(lambda: moto.objects(BUCKET) or None, 30, interval=0.2, what="the object after the faults")
        uploads = faults.uploads()
        assert [u.get("status") for u in uploads] == [503, 503, 500, 200]
        assert uploads[1]["time"] - uploads[0]["time"] >= 0.9  # Retry-After: 1 of the SlowDown
        assert len({u["path"] for u in uploads}) == 1  # every retry wrote the same key
        [body] = objects.values()
        rows = pq.read_table(io.BytesIO(body)).to_pylist()
        assert sorted(r["event"]["id"] for r in rows) == [f"ev-{i}" for i in range(5)]  # ECS documents
        assert agent.stop() == 0


def test_an_s3_outage_is_retried_and_delivered_after_it(tmp_path: Path, moto: MotoS3,
                                                        agent_process: Callable[..., Any]) -> None:
    moto.create_bucket(BUCKET)
    port = pick_port()
    agent = agent_process(config(tmp_path, port, s3_sink(moto.url, wait_s=0.2)))
    wait_for_port(port)
    post(port, [native(0)])
    wait_for(lambda: moto.objects(BUCKET), 20, interval=0.2, what="the first object")
    moto.stop()
    post(port, [native(i) for i in range(1, 6)])  # accepted into the spool while S3 is down
    # one warning for the whole failure streak (the worker summarises further retries)
    wait_for(lambda: "EndpointConnectionError" in agent.log, 20, what="a failed attempt while S3 is down")
    moto.start()
    moto.create_bucket(BUCKET)  # moto keeps its buckets in memory: the restarted one is empty
    objects = wait_for(lambda: moto.objects(BUCKET) or None, 30, interval=0.2, what="the events after the outage")
    assert sorted(jsonl_ids(objects)) == [f"ev-{i}" for i in range(1, 6)]
    ended = wait_for(lambda: re.search(r"delivers again after (\d+) failed attempts", agent.log), 10,
                     what="the end of the failure streak in the log")
    assert int(ended.group(1)) >= 2  # it was retried, not given up
    assert orjson.loads(run_cli("dlq", "-c", str(agent.config), "list", "--json").stdout) == []
    assert agent.stop() == 0


@pytest.mark.parametrize("forward", [False, True], ids=["before-s3-stored-it", "after-s3-stored-it"])
def test_kill_9_between_roll_and_confirmation_loses_nothing(forward: bool, tmp_path: Path, moto: MotoS3,
                                                            agent_process: Callable[..., Any]) -> None:
    moto.create_bucket(BUCKET)
    with S3Faults(moto.port) as faults:
        port = pick_port()
        cfg = config(tmp_path, port, s3_sink(faults.url, wait_s=0.5))
        agent = agent_process(cfg)
        wait_for_port(port)
        faults.hold(forward=forward)
        post(port, [native(i) for i in range(20)])  # 200: in the spool
        assert faults.held.wait(20), "the upload never started"
        agent.kill()  # SIGKILL while the object is rolled and S3's answer has not reached the agent
        faults.release()
        stored = moto.objects(BUCKET)
        assert len(stored) == (1 if forward else 0)
        agent = agent_process(cfg)
        wait_for(lambda: [u for u in faults.uploads() if u.get("status") == 200][1 if forward else 0:], 30,
                 interval=0.2, what="the restarted agent's upload")
        objects = moto.objects(BUCKET)
        assert sorted(jsonl_ids(objects), key=lambda s: int(s[3:])) == [f"ev-{i}" for i in range(20)]  # no loss, no copy
        assert set(stored) <= set(objects)  # the re-upload overwrote the same key
        paths = [u["path"] for u in faults.uploads()]
        assert len(paths) == 2 and paths[0] == paths[1]
        assert agent.stop() == 0


def test_bad_credentials_and_a_missing_bucket_open_the_circuit_and_keep_the_events(
        tmp_path: Path, agent_process: Callable[..., Any]) -> None:
    with MotoS3(tmp_path, env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}) as strict:  # moto checks keys like IAM does
        port = pick_port()
        cfg = config(tmp_path, port, s3_sink(strict.url).replace(ACCESS_KEY, "AKIANOTAKEY00000000X"))
        agent = agent_process(cfg)
        wait_for_port(port)
        post(port, [native(i) for i in range(3)])
        wait_for(lambda: "circuit opened" in agent.log and "InvalidAccessKeyId" in agent.log, 20,
                 what="the circuit opened on InvalidAccessKeyId")
        assert SECRET_KEY not in agent.log
        assert orjson.loads(run_cli("dlq", "-c", str(cfg), "list", "--json").stdout) == []
        agent.stop()
    with MotoS3(tmp_path) as moto:  # the bucket does not exist
        cfg.write_text(cfg.read_text().replace("AKIANOTAKEY00000000X", ACCESS_KEY).replace(strict.url, moto.url))
        agent = agent_process(cfg)
        wait_for(lambda: "circuit opened" in agent.log and "NoSuchBucket" in agent.log, 20,
                 what="the circuit opened on NoSuchBucket")
        moto.create_bucket(BUCKET)  # fixed: the half-open probe delivers what stayed queued
        objects = wait_for(lambda: moto.objects(BUCKET) or None, 20, interval=0.2, what="the queued events")
        assert sorted(jsonl_ids(objects)) == ["ev-0", "ev-1", "ev-2"]
        assert agent.stop() == 0


@pytest.mark.parametrize("kind", ["s3", "security_lake"])
def test_send_test_writes_an_object(kind: str, tmp_path: Path, moto: MotoS3, agent_process: Callable[..., Any]) -> None:
    bucket = BUCKET if kind == "s3" else LAKE
    moto.create_bucket(bucket)
    port, admin = pick_port(), pick_port()
    cfg = config(tmp_path, port, s3_sink(moto.url) if kind == "s3" else lake_sink(moto.url), admin=admin)
    agent = agent_process(cfg)
    wait_for_port(admin)
    res = run_cli("send-test", "out", "-c", str(cfg))
    assert res.returncode == 0 and res.stdout.startswith("√ sink out: ok"), res.stdout + res.stderr
    [(key, body)] = moto.objects(bucket).items()
    ident = re.search(r"test event (\S+);", res.stdout).group(1)  # type: ignore[union-attr]
    if kind == "s3":
        assert jsonl_ids({key: body}) == [ident]
    else:
        assert [r["metadata"]["uid"] for r in pq.read_table(io.BytesIO(body)).to_pylist()] == [ident]
    assert agent.stop() == 0


def test_sigterm_uploads_the_object_being_filled(tmp_path: Path, moto: MotoS3, agent_process: Callable[..., Any]) -> None:
    """With the default roll age (5 minutes) a stopping agent must not sit out the age:
    the worker stops filling, uploads what it has, and exits within the shutdown timeout."""
    moto.create_bucket(BUCKET)
    port = pick_port()
    agent = agent_process(config(tmp_path, port, s3_sink(moto.url, wait_s=300)))
    wait_for_port(port)
    post(port, [native(i) for i in range(3)])
    time.sleep(1.0)  # the worker has read them and is waiting for the batch to fill
    assert moto.objects(BUCKET) == {}
    started = time.monotonic()
    assert agent.stop(timeout=20) == 0
    assert time.monotonic() - started < 3.0 + 2.0  # agent.shutdown_timeout_s is 3
    assert sorted(jsonl_ids(moto.objects(BUCKET))) == ["ev-0", "ev-1", "ev-2"]

