"""Audit records to a SIEM as RFC 5424 syslog messages (AUDIT_SYSLOG).

Each record becomes one message whose structured-data element carries every field of the
record, its hash and the previous hash, so the SIEM holds an independent copy of the chain.
Sent after the record's transaction commits (restore.audit.trail.record); a SIEM that is down never
blocks or fails the action: the database trail is the source of truth, the loss is logged.

Transports: ``udp://host:port`` (one datagram per message, RFC 5426) and ``tcp://host:port``
(octet-counted framing, RFC 6587 3.4.1; one connection per process, reopened after an error).
For TLS, forward through a local relay (rsyslog, syslog-ng, stunnel).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)

FACILITY_LOG_AUDIT = 13  # RFC 5424 6.2.1: "log audit"
SEVERITY_NOTICE, SEVERITY_WARNING = 5, 4
APP_NAME = "vdiprotect"
# SD-IDs of our own need name@<private enterprise number>; 32473 is the PEN reserved for
# documentation (RFC 5612). Receivers match on the name; an estate with its own PEN may relabel.
SD_ID = "audit@32473"
ANCHOR_SD_ID, ANCHOR_MSGID = "anchor@32473", "audit_anchor"  # the chain head (format_anchor)
NILVALUE = "-"
BOM = b"\xef\xbb\xbf"
TIMEOUT = 2.0

FIELDS = (
    "id", "at", "actor_username", "actor_sid", "acting_for_username", "acting_for_sid", "role", "source_ip",
    "request_id", "action", "root", "path", "snapshot", "result", "details", "prev_hash", "hash",
)  # fmt: skip
# SD-PARAM names: at most 32 printable US-ASCII characters without '=', ' ', ']' and '"'.
PARAM_NAMES = {"actor_username": "actor", "acting_for_username": "acting_for", "source_ip": "ip"}


def escape_param_value(value: str) -> str:
    """RFC 5424 6.3.3: '"', '\\' and ']' are escaped with a backslash inside PARAM-VALUE."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _header_field(value: str, limit: int) -> str:
    """HOSTNAME, APP-NAME, PROCID, MSGID: printable US-ASCII without spaces, bounded, or the NILVALUE."""
    cleaned = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return cleaned or NILVALUE


def timestamp(at: datetime) -> str:
    """RFC 3339 in UTC with microseconds, as RFC 5424 6.2.3 allows."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def severity_of(result: str) -> int:
    return SEVERITY_NOTICE if result == "ok" else SEVERITY_WARNING


def field_values(event) -> dict[str, str]:
    values = {}
    for name in FIELDS:
        value = getattr(event, name)
        if name == "at":
            value = timestamp(value)
        elif name == "details":
            value = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        values[PARAM_NAMES.get(name, name)] = "" if value is None else str(value)
    return values


def _header(severity: int, at: datetime, msgid: str, hostname: str | None, procid: str | None) -> str:
    return " ".join((
        f"<{FACILITY_LOG_AUDIT * 8 + severity}>1",
        timestamp(at),
        _header_field(hostname if hostname is not None else socket.gethostname(), 255),
        APP_NAME,
        _header_field(procid if procid is not None else str(os.getpid()), 128),
        _header_field(msgid, 32),
    ))


def _params(values: dict[str, str]) -> str:
    return " ".join(f'{name}="{escape_param_value(value)}"' for name, value in values.items())


def format_record(event, *, hostname: str | None = None, procid: str | None = None) -> bytes:
    """One audit record as an RFC 5424 message (bytes, UTF-8)."""
    header = _header(severity_of(event.result), event.at, event.action, hostname, procid)
    params = _params(field_values(event))
    text = f"{event.actor_username or '-'} {event.action} {event.result}"
    if event.acting_for_username:
        text += f" for {event.acting_for_username}"
    if event.path:
        text += f" {event.root}:{event.path}"
    return f"{header} [{SD_ID} {params}] ".encode() + BOM + text.encode()


def format_anchor(*, count: int, last_id: int, last_hash: str, at: datetime,
                  hostname: str | None = None, procid: str | None = None) -> str:
    """The chain head as an RFC 5424 message (restore/audit/anchor.py), one line of text: what a SIEM keeps
    and what ``verify_audit --anchor`` reads back from an anchor file or a syslog receiver's log."""
    header = _header(SEVERITY_NOTICE, at, ANCHOR_MSGID, hostname, procid)
    params = _params({"count": str(count), "id": str(last_id), "hash": last_hash})
    return f"{header} [{ANCHOR_SD_ID} {params}] audit chain head: {count} records, last id {last_id}"


@dataclass(frozen=True)
class Target:
    transport: str  # "udp" or "tcp"
    host: str
    port: int


def parse_target(url: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("udp", "tcp") or not parts.hostname or parts.path not in ("", "/"):
        raise ImproperlyConfigured(f"AUDIT_SYSLOG={url!r}: use udp://host:port or tcp://host:port")
    try:
        port = parts.port or 514
    except ValueError as exc:
        raise ImproperlyConfigured(f"AUDIT_SYSLOG={url!r}: {exc}") from None
    return Target(parts.scheme, parts.hostname, port)


class Sender:
    """One socket per process and target; thread-safe; one reconnect on a failed send."""

    def __init__(self, target: Target):
        self.target = target
        self.sock: socket.socket | None = None
        self.lock = threading.Lock()

    def _connect(self) -> socket.socket:
        address = (self.target.host, self.target.port)
        if self.target.transport == "udp":
            family = socket.getaddrinfo(*address, type=socket.SOCK_DGRAM)[0][0]
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.connect(address)
        else:
            sock = socket.create_connection(address, timeout=TIMEOUT)
        sock.settimeout(TIMEOUT)
        return sock

    def _frame(self, message: bytes) -> bytes:
        return message if self.target.transport == "udp" else str(len(message)).encode() + b" " + message

    def send(self, message: bytes) -> None:
        with self.lock:
            for attempt in (1, 2):
                try:
                    if self.sock is None:
                        self.sock = self._connect()
                    self.sock.sendall(self._frame(message))
                    return
                except OSError:
                    self.close()
                    if attempt == 2:
                        raise

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


_senders: dict[str, Sender] = {}
_senders_lock = threading.Lock()


def sender_for(url: str) -> Sender:
    with _senders_lock:
        if url not in _senders:
            _senders[url] = Sender(parse_target(url))
        return _senders[url]


def send(message: bytes, what: str = "audit message") -> bool:
    """Send one message to AUDIT_SYSLOG; never raises (a SIEM outage is logged, not fatal)."""
    url = settings.AUDIT_SYSLOG
    if not url:
        return False
    try:
        sender_for(url).send(message)
        return True
    except (OSError, ImproperlyConfigured) as exc:
        log.warning("%s not forwarded to %s: %s", what, url, exc)
        return False


def forward(event) -> bool:
    """Send one committed record to AUDIT_SYSLOG; never raises (a SIEM outage is logged, not fatal)."""
    return send(format_record(event), f"audit record {event.id}")
