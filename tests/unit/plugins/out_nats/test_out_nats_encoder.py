"""The nats sink's pure encoder: subjects, payloads and headers, without a network."""

from __future__ import annotations

import orjson
import pytest

from agent.sdk.sink import SpooledEvent
from agent.testing import make_event, spooled
from plugins.out_nats.encoder import (EncodeError, SubjectTemplate, encode_batch, event_id, make_renderer,
                                      msg_id_header)


def test_native_payload_is_the_spooled_bytes_and_msg_id_is_the_event_id() -> None:
    batch = spooled([make_event(id="zp-1"), make_event(id="zp-2")])
    msgs = encode_batch(batch, SubjectTemplate("siem.events"), make_renderer("native"))
    assert [m.data for m in msgs] == [e.data for e in batch]
    assert [m.headers["Nats-Msg-Id"] for m in msgs] == ["zp-1", "zp-2"]
    assert all(m.subject == "siem.events" for m in msgs)
    assert msgs[0].headers["Siemrelay-Schema"] == "native"
    assert "Nats-Expected-Stream" not in msgs[0].headers


def test_msg_id_can_be_turned_off_and_expected_stream_and_extra_headers_are_sent() -> None:
    msgs = encode_batch(spooled([make_event()]), SubjectTemplate("a"), make_renderer("native"), msg_id=False,
                        stream="EVENTS", extra_headers={"X-Tenant": "blue"})
    assert "Nats-Msg-Id" not in msgs[0].headers
    assert msgs[0].headers["Nats-Expected-Stream"] == "EVENTS"
    assert msgs[0].headers["X-Tenant"] == "blue"


def test_static_subject_and_native_payload_never_parse_the_event() -> None:
    # Bytes that are not a complete event: parsing them would raise.
    item = SpooledEvent(1, b'{"id":"abc","not":"an event"}')
    msgs = encode_batch([item], SubjectTemplate("siem.raw"), make_renderer("native"))
    assert msgs[0].headers["Nats-Msg-Id"] == "abc"
    assert msgs[0].data == item.data


def test_id_with_json_escapes_is_read_by_parsing() -> None:
    ev = make_event(id='we"ird\\id')
    assert event_id(spooled([ev])[0]) == 'we"ird\\id'


@pytest.mark.parametrize("ident", ["line\nbreak", "x" * 300, "tab\tid", "é-accent"])
def test_unsafe_ids_become_a_stable_hash(ident: str) -> None:
    header = msg_id_header(ident)
    assert header.startswith("sha256:") and len(header) == 7 + 64
    assert header == msg_id_header(ident)
    assert "\n" not in header


def test_plain_ids_are_kept_as_they_are() -> None:
    assert msg_id_header("detectify:finding:42") == "detectify:finding:42"


def test_subject_placeholders_take_event_values_as_single_tokens() -> None:
    tpl = SubjectTemplate("siem.{{ source }}.{{ severity }}.{{ asset.name }}")
    assert not tpl.static
    ev = make_event(source="zero.path", severity="critical", asset={"name": "web *01>"})
    assert tpl.render(spooled([ev])[0]) == "siem.zero_path.critical.web__01_"
    missing = make_event(source="acme")
    assert tpl.render(spooled([missing])[0]) == "siem.acme.high.unknown"


def test_ocsf_payload_is_ocsf_json() -> None:
    ev = make_event(id="f-1", title="SQL injection")
    msgs = encode_batch(spooled([ev]), SubjectTemplate("siem.ocsf"), make_renderer("ocsf"), schema="ocsf")
    doc = orjson.loads(msgs[0].data)
    assert isinstance(doc["class_uid"], int) and "SQL injection" in msgs[0].data.decode()
    assert "severity_id" in doc and "received_at" not in doc  # OCSF, not the native form
    assert msgs[0].headers["Siemrelay-Schema"] == "ocsf"
    assert msgs[0].headers["Nats-Msg-Id"] == "f-1"


def test_an_event_that_cannot_be_encoded_is_named_by_index() -> None:
    batch = spooled([make_event(), make_event()]) + [SpooledEvent(9, b"not json")]

    def render(e: SpooledEvent) -> bytes:
        return orjson.dumps(e.event.to_dict())

    with pytest.raises(EncodeError) as info:
        encode_batch(batch, SubjectTemplate("a"), render)
    assert info.value.index == 2
