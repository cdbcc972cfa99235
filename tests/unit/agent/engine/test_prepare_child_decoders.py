"""The preparing child builds its decoders from the settings the agent validated.

The agent's decoder factory validates a decoder's settings with cerberus and stamps the
decoder with a key carrying them; the child builds the same decoder from the key without
validating again, so a child whose decoders all came validated never loads cerberus (nor
``importlib.metadata`` and ``email``, which cerberus brings: about 2.5 MB of its RSS).
These run the child's side in a fresh interpreter, as the child is one.
"""

from __future__ import annotations

import base64
import json
import pickle
import subprocess
import sys
from datetime import datetime, timezone

import orjson

from agent.config.loader import SourceMap
from agent.engine.build import DecoderFactory
from agent.engine.decoder_key import DecoderKey, key_of
from agent.engine.prepare_child import PrepareRecipe
from agent.plugins import load_plugins

NOW = datetime(2026, 12, 7, 22, 0, tzinfo=timezone.utc)
ROUTES: list[dict[str, object]] = [{"name": "all", "to": ["siem"], "continue": False, "enabled": True,
                                    "description": "", "transforms": []}]

_CHILD = r"""
import base64, json, pickle, sys
from agent.engine.prepare_child import _Preparer
recipe, keys, records = pickle.loads(base64.b64decode(sys.stdin.read()))
preparer = _Preparer(recipe)
batch, logs = preparer.prepare(keys, records, dedup=False)
print(json.dumps({"rows": [data.decode() for _, data in batch.rows], "failed": batch.failed, "logs": logs,
                  "loaded": sorted(m for m in ("cerberus", "email", "importlib.metadata", "yaml", "sqlite3", "loguru",
                                               "agent.engine.build", "agent.config.validate") if m in sys.modules)}))
"""


def _key(spec: object, path: tuple[str, ...]) -> DecoderKey:
    factory = DecoderFactory(load_plugins(entry_points=False), {}, SourceMap())
    key = key_of(factory(spec, path))
    assert key is not None
    return key


def _in_child(keys: list[DecoderKey], lines: list[bytes]) -> dict[str, object]:
    recipe = PrepareRecipe(routes=ROUTES, sinks=("siem",), bits={"siem": 0}, dedup_window_s=0, dedup_max_ids=10,
                           plugins=("plugins.dec_auto", "plugins.dec_json", "plugins.dec_cef", "plugins.dec_syslog"))
    records = [(line, 0, {"input": "edr"}, NOW, None, {}) for line in lines]
    payload = base64.b64encode(pickle.dumps((recipe, keys, records))).decode()
    out = subprocess.run([sys.executable, "-c", _CHILD], input=payload, capture_output=True, text=True, timeout=60,
                         check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_a_validated_json_decoder_is_built_without_cerberus_and_decodes_as_the_agents() -> None:
    key = _key({"type": "json", "fields": {"id": "uid"}}, ("sources", "edr", "decoder"))
    assert key.settings is not None and key.settings["source"] == "json"  # the defaults the agent filled in
    lines = [orjson.dumps({"uid": f"e{i}", "severity": "high", "title": f"event {i}"}) for i in range(3)] + [b"{bad"]
    got = _in_child([key], lines)
    assert [json.loads(r)["id"] for r in got["rows"]] == ["e0", "e1", "e2"]
    assert [f[0] for f in got["failed"]] == [3]  # type: ignore[union-attr]
    assert got["loaded"] == []


def test_auto_hands_records_to_its_delegates_built_in_the_child() -> None:
    """``auto`` builds the decoders it hands records to by type name; the child builds
    those through the agent's factory (validated there, loading cerberus then)."""
    key = _key("auto", ("sources", "edr", "decoder"))
    cef = b"CEF:0|Acme|IDS|1.0|100|Port scan|7|src=10.0.0.1 dst=10.0.0.2"
    got = _in_child([key], [orjson.dumps({"id": "j1", "severity": "low"}), cef])
    rows = [json.loads(r) for r in got["rows"]]
    assert rows[0]["id"] == "j1" and rows[1]["title"] == "Port scan"
    assert got["failed"] == []


def test_settings_that_are_not_plain_json_are_not_carried() -> None:
    """A key carries settings only when they mean the same as JSON; otherwise the child
    validates the spec itself (as before)."""
    assert DecoderKey.of(("d",), {"type": "json"}, {"type": "json", "n": 1}).settings == {"type": "json", "n": 1}  # type: ignore[union-attr]
    assert DecoderKey.of(("d",), {"type": "json"}, {"type": "json", "pair": (1, 2)}).settings is None  # type: ignore[union-attr]
    assert DecoderKey.of(("d",), {"type": "json"}, {"type": "json", "at": NOW}).settings is None  # type: ignore[union-attr]
    assert DecoderKey.of(("d",), {"type": "json"}, {"type": "json", "x": float("inf")}).settings is None  # type: ignore[union-attr]
