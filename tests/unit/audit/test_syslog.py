"""RFC 5424 formatting of audit records and their transport to a real socket (restore/audit/syslog.py)."""

from __future__ import annotations

import re
import socket
import threading
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from restore.audit import syslog

# RFC 5424 section 6: HEADER SP STRUCTURED-DATA [SP MSG], MSG starting with the UTF-8 BOM.
MESSAGE = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>[!-~]{1,255}) (?P<app>[!-~]{1,48}) (?P<proc>[!-~]{1,128}) "
    rb"(?P<msgid>[!-~]{1,32}) \[(?P<sd>(?:[^\]\\]|\\.)*)\] \xef\xbb\xbf(?P<msg>.*)$", re.S)
SD_PARAM = re.compile(r'([!-~]{1,32}?)="((?:[^"\\\]]|\\["\\\]])*)"')


def event(**fields):
    values = dict(
        id=42, at=datetime(2026, 11, 1, 9, 30, 5, 123456, tzinfo=UTC), actor_username="helpdesk1",
        actor_sid="S-1-5-21-1-2-3-1110", acting_for_username="alice", acting_for_sid="S-1-5-21-1-2-3-1105",
        role="helpdesk", source_ip="10.0.0.5", request_id="req-1", action="download", root="data",
        path="Documents\\notes.txt", snapshot="@GMT-2026.10.31-09.00.00", result="ok",
        details={"size": 12, "ticket": "INC-1"}, prev_hash="a" * 64, hash="b" * 64,
    )
    return SimpleNamespace(**{**values, **fields})


def parse(message: bytes) -> tuple[re.Match, dict[str, str]]:
    match = MESSAGE.match(message)
    assert match, message
    sd_id, _, params = match["sd"].decode().partition(" ")
    assert sd_id == syslog.SD_ID
    decoded = {name: re.sub(r"\\(.)", r"\1", value) for name, value in SD_PARAM.findall(params)}
    return match, decoded


def test_a_record_is_one_rfc5424_message_with_every_field_in_structured_data():
    match, params = parse(syslog.format_record(event(), hostname="web-1", procid="777"))
    assert match["pri"] == b"109"  # log audit (13) * 8 + notice (5)
    assert (match["ts"], match["host"], match["app"], match["proc"], match["msgid"]) == (
        b"2026-11-01T09:30:05.123456Z", b"web-1", b"vdiprotect", b"777", b"download")
    assert params == {
        "id": "42", "at": "2026-11-01T09:30:05.123456Z", "actor": "helpdesk1", "actor_sid": "S-1-5-21-1-2-3-1110",
        "acting_for": "alice", "acting_for_sid": "S-1-5-21-1-2-3-1105", "role": "helpdesk", "ip": "10.0.0.5",
        "request_id": "req-1", "action": "download", "root": "data", "path": "Documents\\notes.txt",
        "snapshot": "@GMT-2026.10.31-09.00.00", "result": "ok", "details": '{"size":12,"ticket":"INC-1"}',
        "prev_hash": "a" * 64, "hash": "b" * 64,
    }
    assert match["msg"] == b"helpdesk1 download ok for alice data:Documents\\notes.txt"


@pytest.mark.parametrize("result, pri", [("ok", b"109"), ("denied", b"108"), ("failed", b"108"), ("locked", b"108")])
def test_refusals_and_failures_are_warnings(result, pri):
    assert parse(syslog.format_record(event(result=result), hostname="h", procid="1"))[0]["pri"] == pri


def test_quotes_backslashes_and_brackets_are_escaped_and_unicode_kept():
    tricky = 'Docs\\a "b" ]c] Ünïcødé ✓.txt'
    message = syslog.format_record(event(path=tricky, actor_username="x] [y"), hostname="h", procid="1")
    assert parse(message)[1]["path"] == tricky and parse(message)[1]["actor"] == "x] [y"
    assert 'Ünïcødé'.encode() in message


def test_header_fields_are_printable_ascii_or_the_nil_value():
    match, _ = parse(syslog.format_record(event(action=""), hostname="my host\n", procid=""))
    assert (match["host"], match["proc"], match["msgid"]) == (b"myhost", b"-", b"-")


def test_timestamps_are_utc_whatever_zone_the_record_carries():
    at = datetime(2026, 11, 1, 11, 30, 5, 7, tzinfo=timezone(timedelta(hours=2)))
    assert syslog.timestamp(at) == "2026-11-01T09:30:05.000007Z"


def test_param_names_are_valid_sd_names():
    for name in syslog.field_values(event()):
        assert 1 <= len(name) <= 32 and re.fullmatch(r'[!-~]+', name) and not set(name) & set('= ]"')


@pytest.mark.parametrize("url, target", [
    ("udp://127.0.0.1:5514", syslog.Target("udp", "127.0.0.1", 5514)),
    ("tcp://siem.example.test:601", syslog.Target("tcp", "siem.example.test", 601)),
    ("udp://siem.example.test", syslog.Target("udp", "siem.example.test", 514)),
])
def test_targets(url, target):
    assert syslog.parse_target(url) == target


@pytest.mark.parametrize("url", ["http://siem:514", "udp://", "tcp://siem:notaport", "siem:514", "udp://h:1/path"])
def test_bad_targets_are_configuration_errors(url):
    with pytest.raises(ImproperlyConfigured):
        syslog.parse_target(url)


def test_udp_sends_one_datagram_per_record_to_a_real_socket():
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    try:
        sender = syslog.Sender(syslog.parse_target("udp://127.0.0.1:%d" % listener.getsockname()[1]))
        first = syslog.format_record(event(id=1), hostname="h", procid="1")
        second = syslog.format_record(event(id=2), hostname="h", procid="1")
        sender.send(first)
        sender.send(second)
        assert listener.recv(65535) == first and listener.recv(65535) == second
        sender.close()
    finally:
        listener.close()


def test_tcp_frames_each_record_by_octet_counting_on_one_connection():
    server = socket.create_server(("127.0.0.1", 0))
    received, connections = [], []

    def serve():
        conn, _ = server.accept()
        connections.append(conn)
        with conn:
            while chunk := conn.recv(65535):
                received.append(chunk)

    thread = threading.Thread(target=serve)
    thread.start()
    sender = syslog.Sender(syslog.parse_target("tcp://127.0.0.1:%d" % server.getsockname()[1]))
    messages = [syslog.format_record(event(id=i, path="Ü" * i), hostname="h", procid="1") for i in (1, 2)]
    for message in messages:
        sender.send(message)
    sender.close()
    thread.join(5)
    server.close()
    stream = b"".join(received)
    for message in messages:  # RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG
        length, _, stream = stream.partition(b" ")
        assert int(length) == len(message) and stream[: len(message)] == message
        stream = stream[len(message):]
    assert stream == b"" and len(connections) == 1


def test_forward_never_raises_when_the_siem_is_unreachable(settings, caplog):
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    settings.AUDIT_SYSLOG = f"tcp://127.0.0.1:{port}"
    assert syslog.forward(event()) is False
    assert "not forwarded" in caplog.text
    settings.AUDIT_SYSLOG = ""
    assert syslog.forward(event()) is False
