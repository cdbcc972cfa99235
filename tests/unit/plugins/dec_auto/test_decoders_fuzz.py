"""Property tests: every decoder, fed arbitrary JSON and bytes, returns events or raises DecodeError.

Nothing else may escape a decoder (the pipeline would log a bug), and every event it
returns must serialise, since the spool stores its JSON form. The mutation tests start
from the vendors' real payloads, so they reach the deep mapping code that random JSON
never gets to.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.sdk.decoder import Decoder, DecodeError, PartialDecodeError
from agent.sdk.ocsf import to_ocsf
from agent.testing import make_record
from plugins.dec_auto.decoder import AutoDecoder
from plugins.dec_cef.decoder import CefDecoder
from plugins.dec_detectify.decoder import DetectifyDecoder
from plugins.dec_escape.decoder import EscapeDecoder
from plugins.dec_json.decoder import JsonDecoder, NdjsonDecoder
from plugins.dec_pentest.decoder import PentestDecoder
from plugins.dec_raw.decoder import RawDecoder
from plugins.dec_zeropath.decoder import ZeroPathDecoder
from tests.peers.decoder_factory import build_decoder

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "vendors"
CLASSES = (EscapeDecoder, DetectifyDecoder, ZeroPathDecoder, PentestDecoder, JsonDecoder, NdjsonDecoder,
           CefDecoder, RawDecoder, AutoDecoder)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decoder(cls: type[Decoder]) -> Decoder:
    return build_decoder(cls.type_name)  # as the agent builds it (auto reaches the others through the registry)


DECODERS = [_decoder(c) for c in CLASSES]
IDS = [d.type_name for d in DECODERS]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                           max_leaves=25)


def _check(decoder: Decoder, data: bytes, parsed: Any = None) -> None:
    record = make_record(data, decoder)
    if parsed is not None:
        record.parsed = parsed
    try:
        events = decoder.decode(record)
    except PartialDecodeError as exc:
        assert exc.failures, "a partial error must say what failed"
        events = exc.events
    except DecodeError as exc:
        assert str(exc), "a decode error must carry a reason"
        return
    assert isinstance(events, list)
    for ev in events:
        ev.to_json()
        orjson.dumps(to_ocsf(ev))


@pytest.mark.parametrize("decoder", DECODERS, ids=IDS)
@FUZZ
@given(value=json_values)
def test_arbitrary_json_bytes(decoder: Decoder, value: Any) -> None:
    _check(decoder, orjson.dumps(value))


@pytest.mark.parametrize("decoder", DECODERS, ids=IDS)
@FUZZ
@given(value=json_values)
def test_arbitrary_parsed_json(decoder: Decoder, value: Any) -> None:
    if value is None:
        return  # parsed=None means "not parsed" in the record contract
    _check(decoder, orjson.dumps(value), parsed=value)


@pytest.mark.parametrize("decoder", DECODERS, ids=IDS)
@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes(decoder: Decoder, data: bytes) -> None:
    _check(decoder, data)


@pytest.mark.parametrize("decoder", DECODERS, ids=IDS)
@FUZZ
@given(text=st.text(max_size=200))
def test_arbitrary_text_with_markers(decoder: Decoder, text: str) -> None:
    for prefix in ("CEF:0|", "<13>", "{", "CEF:0|a|b|c|d|e|5|"):
        _check(decoder, (prefix + text).encode("utf-8", "surrogatepass"))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, prefix + (i,)))
    return out


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    doc = copy.deepcopy(doc)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return doc


VENDOR_FIXTURES = sorted(p for p in FIXTURES.glob("*/*.json"))
_BY_VENDOR = {"escape": EscapeDecoder, "detectify": DetectifyDecoder, "zeropath": ZeroPathDecoder,
              "pentest": PentestDecoder}


@pytest.mark.parametrize("path", VENDOR_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_mutated_vendor_payloads(path: Path, data: st.DataObject) -> None:
    doc = orjson.loads(path.read_bytes())
    where = data.draw(st.sampled_from(_paths(doc)))
    mutated = _replace(doc, where, data.draw(json_values))
    for decoder in (_decoder(_BY_VENDOR[path.parent.name]), _decoder(AutoDecoder), _decoder(JsonDecoder)):
        _check(decoder, orjson.dumps(mutated))


@pytest.mark.parametrize("decoder", DECODERS, ids=IDS)
def test_deep_nesting_is_a_decode_error_not_a_crash(decoder: Decoder) -> None:
    # 600 levels: orjson parses it (its limit is 1024) but could not store it again
    _check(decoder, b'{"issues":[' * 300 + b"1" + b"]}" * 300)
    _check(decoder, b"[" * 2000 + b"]" * 2000)
    nested: Any = 1
    for _ in range(240):
        nested = [nested]
    _check(decoder, orjson.dumps({"issues": [{"id": "x", "deep": nested}], "sourcetype": "X", "event": {"a": nested}}))


@pytest.mark.parametrize("decoder", DECODERS, ids=IDS)
def test_invalid_utf8_is_an_error_record(decoder: Decoder) -> None:
    record = make_record(b'{"title": "caf\xe9"}\n\xff\xfe CEF:0|a', decoder)
    if isinstance(decoder, RawDecoder):
        with pytest.raises(DecodeError, match="invalid UTF-8"):
            decoder.decode(record)
        return
    with pytest.raises(DecodeError):
        decoder.decode(record)
