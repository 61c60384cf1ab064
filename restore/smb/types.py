"""The adapter's own value types: what the rest of the project sees instead of smbprotocol structures."""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import total_ordering

_TOKEN = re.compile(r"^@GMT-(\d{4})\.(\d{2})\.(\d{2})-(\d{2})\.(\d{2})\.(\d{2})$")


@total_ordering
@dataclass(frozen=True)
class Snapshot:
    """One Previous Version of a share: its @GMT token and the UTC time it names. Ordered by time."""

    token: str
    at: datetime | None = None  # derived from the token when not given; must agree with it when given

    def __post_init__(self):
        parsed = _parse_token(self.token)
        if self.at is not None and (self.at.tzinfo is None or self.at != parsed):
            raise ValueError(f"snapshot time {self.at!r} does not match its token {self.token}")
        object.__setattr__(self, "at", parsed)

    @classmethod
    def from_token(cls, token: str) -> Snapshot:
        """``@GMT-2026.11.01-10.00.00`` -> Snapshot; ValueError for anything else."""
        return cls(token)

    def __lt__(self, other: Snapshot) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        return self.at < other.at


def _parse_token(token: str) -> datetime:
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if not match:
        raise ValueError(f"not a snapshot token (@GMT-YYYY.MM.DD-HH.MM.SS): {token!r}")
    try:
        return datetime(*(int(g) for g in match.groups()), tzinfo=UTC)
    except ValueError as exc:  # e.g. month 13
        raise ValueError(f"not a valid snapshot time: {token!r} ({exc})") from None


_EPOCH_AS_FILETIME = 116444736000000000  # 1970-01-01 in 100 ns units since 1601-01-01


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_unix_microseconds(value: int) -> datetime:
    return _UNIX_EPOCH + timedelta(microseconds=value)


def from_filetime(value: int) -> datetime:
    """FILETIME (100 ns since 1601, UTC) -> aware datetime (microsecond precision)."""
    return _UNIX_EPOCH + timedelta(microseconds=(value - _EPOCH_AS_FILETIME) // 10)


def to_filetime(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("file times must be timezone-aware (UTC)")
    delta = value - _UNIX_EPOCH  # four of these per listed object: plain integer arithmetic
    return _EPOCH_AS_FILETIME + ((delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds) * 10


def basic_information(*, created: datetime | None = None, last_access: datetime | None = None,
                      last_write: datetime | None = None, changed: datetime | None = None,
                      attributes: int | None = None) -> bytes:
    """FileBasicInformation ([MS-FSCC] 2.4.7): a time or attributes of 0 leaves that one as it is."""
    def ft(value):
        return 0 if value is None else to_filetime(value)

    return struct.pack("<qqqqII", ft(created), ft(last_access), ft(last_write), ft(changed),
                       0 if attributes is None else attributes, 0)


@dataclass(frozen=True)
class Entry:
    """A file or folder as the server reports it (live or at a snapshot). Times are UTC-aware."""

    name: str
    is_dir: bool
    size: int
    last_write: datetime
    created: datetime
    changed: datetime
    attributes: int
    last_access: datetime | None = None


@dataclass(frozen=True)
class Credentials:
    """Who a session authenticates as. ``auth`` is negotiate | ntlm | kerberos.

    ``ccache``: a Kerberos credential cache holding the tickets to use (the service account's from its
    keytab, or a person's obtained by delegation: ``delegated``); then ``username`` is the principal
    and there is no password. ``idle``: seconds after which an unused session is logged off (people's
    sessions; None keeps it for the process's life).

    The password is excluded from repr so it never reaches a log or a traceback."""

    username: str
    password: str = field(repr=False)
    domain: str = ""
    auth: str = "negotiate"
    ccache: str = field(default="", repr=False)
    delegated: bool = False
    idle: float | None = None

    def __post_init__(self):
        if self.auth not in ("negotiate", "ntlm", "kerberos"):
            raise ValueError(f"SMB auth must be negotiate, ntlm or kerberos, not {self.auth!r}")

    @property
    def principal(self) -> str:
        """The name handed to SPNEGO: DOMAIN\\user unless the username already names its domain."""
        if not self.domain or "\\" in self.username or "@" in self.username or self.ccache:
            return self.username
        return f"{self.domain}\\{self.username}"

    @property
    def identity(self) -> tuple[str, str, str]:
        """The pool key: one session per (principal, auth, password) — never shared between users.

        The password takes part as a digest only, so a changed password gets a new session. Tickets
        from a credential cache are renewed under the same session (the cache's name does not count);
        a person's delegated session is never the service account's, even for the same name."""
        if self.ccache:
            return (self.principal.lower(), "delegated" if self.delegated else "kerberos-ccache", "")
        digest = hashlib.sha256(self.password.encode()).hexdigest()
        return (self.principal.lower(), self.auth, digest)


class Unreadable:
    """What ``security_descriptors_many`` (and ``..._at_many``) give for an object whose security
    descriptor the file server refused to the service account (no READ_CONTROL there, and backup
    intent did not help): it exists, but nobody can say who may see it, so callers hide it and say so."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "smb.UNREADABLE"

    def __bool__(self) -> bool:  # never mistaken for a descriptor's bytes
        return False


UNREADABLE = Unreadable()
