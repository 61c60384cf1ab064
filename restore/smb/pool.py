"""Connections, sessions and tree connects, kept per process.

* one ``Connection`` per (server, port): SMB multiplexes every session over it;
* one ``Session`` per identity on it — a person's session is never used for anyone else;
* one ``TreeConnect`` per share in a session.

People's own sessions (Kerberos delegation: ``Credentials.idle``) are logged off once unused for
that long: a portal used by thousands keeps only the sessions of the people using it now.

The pool belongs to the process that built it (``os.getpid()``): a Celery prefork child inherits
the parent's sockets but must never use them (the two would interleave messages on one socket)
nor shut them down (that would cut the parent's connection too), so a child starts afresh.

A connection found dead (socket closed, receiver thread gone) is replaced on the next use; the
client retries an operation once when the connection drops during it (see ``client.py``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from smbprotocol.connection import Connection
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect
from spnego import KerberosCCache

from restore.smb import errors, fastpath, kerberos, wire
from restore.smb.types import Credentials

log = logging.getLogger(__name__)

CREDIT_TARGET = 512  # credits to keep available per connection: 8 x 4 MiB reads or ~170 stat compounds


@dataclass(frozen=True)
class Options:
    """Transport settings (from Django settings, see ``client.settings_options``)."""

    port: int = 445
    require_signing: bool = True
    encrypt: bool = False
    timeout: float = 30
    backup_intent: bool = False  # read with FILE_OPEN_FOR_BACKUP_INTENT (see client.settings_options)


def alive(connection: Connection) -> bool:
    """Whether the connection can still carry requests (smbprotocol marks a closed socket; the
    receiver thread records its own death in ``_t_exc``)."""
    transport = connection.transport
    worker = getattr(connection, "_t_worker", None)
    sock = getattr(transport, "_sock", None)
    return bool(
        transport is not None
        and transport.connected
        and (sock is None or sock.fileno() != -1)  # a socket closed underneath smbprotocol
        and getattr(connection, "_t_exc", None) is None
        and (worker is None or worker.is_alive())
    )


class Pool:
    def __init__(self):
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._server_locks: dict[tuple, threading.Lock] = {}
        self._connections: dict[tuple, Connection] = {}
        self._sessions: dict[tuple, Session] = {}
        self._trees: dict[tuple, TreeConnect] = {}
        self._idle: dict[tuple, tuple[float, float]] = {}  # session key -> (last use, idle limit)

    def tree(self, server: str, share: str, credentials: Credentials, options: Options) -> TreeConnect:
        """A connected tree for (server, share) as ``credentials``: reused, or (re)built now."""
        server_key = _server_key(server, options)
        session_key = server_key + credentials.identity
        tree_key = session_key + (share.lower(),)
        self._log_off_idle()
        with self._server_lock(server_key):
            if credentials.idle is not None:
                self._idle[session_key] = (time.monotonic(), credentials.idle)
            connection = self._connections.get(server_key)
            if connection is not None and not alive(connection):
                log.info("SMB connection to %s:%s was lost; reconnecting", server, options.port)
                self._forget_connection(server_key)
                connection = None
            tree = self._trees.get(tree_key)
            if tree is not None and connection is not None:
                return tree
            if connection is None:
                connection = self._connect(server, options)
                self._connections[server_key] = connection
            try:
                session = self._sessions.get(session_key)
                if session is None:
                    session = self._session(connection, credentials, options)
                    self._sessions[session_key] = session
                tree = TreeConnect(session, rf"\\{server}\{share}")
                try:
                    tree.connect()
                except Exception as exc:
                    raise errors.translate(exc, path=share, action="connect to share") from exc
            except errors.ConnectionLost as err:
                # Do not keep what just failed: the next call starts from a new session or connection.
                if err.status is not None and alive(connection):
                    self._sessions.pop(session_key, None)
                else:
                    self._forget_connection(server_key)
                raise
            self._trees[tree_key] = tree
            return tree

    def forget(self, server: str, options: Options, credentials: Credentials | None = None, *,
               connection: Connection | None = None, session_only: bool = False) -> None:
        """Drop what a failure showed to be unusable: only the session of ``credentials`` when the
        server itself answered that the session is gone (``session_only``), otherwise the whole
        connection. ``connection`` limits the drop to that connection object (another thread may
        already have replaced it)."""
        server_key = _server_key(server, options)
        with self._server_lock(server_key):
            current = self._connections.get(server_key)
            if current is None or (connection is not None and current is not connection):
                return
            if session_only and alive(current) and credentials is not None:
                session_key = server_key + credentials.identity
                self._sessions.pop(session_key, None)
                for key in [k for k in self._trees if k[: len(session_key)] == session_key]:
                    del self._trees[key]
            else:
                self._forget_connection(server_key)

    def close(self) -> None:
        """Log off and disconnect everything (only ever in the process that built the pool)."""
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
            self._sessions.clear()
            self._trees.clear()
            self._idle.clear()
        for connection in connections:
            try:
                connection.disconnect(close=alive(connection), timeout=5)
            except Exception:  # closing is best effort: the server may be gone already
                log.debug("error while closing an SMB connection", exc_info=True)

    def sessions(self) -> list[tuple]:
        """The keys of the sessions held now: (server, port, signing, encryption, principal, kind, _)."""
        return list(self._sessions)

    def session_for(self, server: str, options: Options, credentials: Credentials) -> Session | None:
        """The pooled session of ``credentials`` (tests compare it with what the server reports)."""
        return self._sessions.get(_server_key(server, options) + credentials.identity)

    def _log_off_idle(self) -> None:
        now = time.monotonic()
        for session_key, (used, limit) in list(self._idle.items()):
            if now - used <= limit:
                continue
            server_key = session_key[:4]
            with self._server_lock(server_key):
                if self._idle.get(session_key, (now, 0))[0] != used:
                    continue  # used meanwhile
                del self._idle[session_key]
                session = self._sessions.pop(session_key, None)
                for key in [k for k in self._trees if k[: len(session_key)] == session_key]:
                    del self._trees[key]
            if session is not None:
                try:
                    session.disconnect(True, timeout=5)  # log off: the server forgets the person's session
                except Exception:  # best effort: the server may be gone, the session expired
                    log.debug("error while logging off an idle SMB session", exc_info=True)

    def connection_for(self, server: str, options: Options) -> Connection | None:
        """The pooled connection (tests use it to cut the transport underneath)."""
        return self._connections.get(_server_key(server, options))

    # --- building -------------------------------------------------------------------------------

    def _server_lock(self, key: tuple) -> threading.Lock:
        with self._lock:
            return self._server_locks.setdefault(key, threading.Lock())

    def _connect(self, server: str, options: Options) -> Connection:
        connection = Connection(uuid.uuid4(), server, options.port, require_signing=options.require_signing)
        try:
            connection.connect(timeout=options.timeout)
        except Exception as exc:
            _quietly_disconnect(connection)
            err = errors.translate(exc, path=f"{server}:{options.port}", action="connect to file server")
            if isinstance(err, errors.ConnectionLost):
                err = errors.Unreachable(str(err))
            raise err from exc
        # The receive thread is already waiting for the next packet in smbprotocol's own ``recv``; the
        # one after goes through ``fastpath`` (the session setup answer, here, is smbprotocol's anyway).
        # Installed on first use instead, a new connection's first fast-path answers came the slow way.
        fastpath.install(connection)
        # Pipelined requests are small writes in a row: without TCP_NODELAY, Nagle holds each one
        # back until the previous is acknowledged, which costs a round trip (or a 40-200 ms delayed ACK).
        sock = getattr(connection.transport, "_sock", None)
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def _session(self, connection: Connection, credentials: Credentials, options: Options) -> Session:
        user = credentials.principal
        if credentials.ccache:  # tickets already in hand: the service account's, or a person's by delegation
            user = KerberosCCache(ccache=credentials.ccache, principal=credentials.principal)
        # Kerberos asks for cifs/<the server's DNS name> even when the connection goes to an address.
        hostname = kerberos.spn_host(connection.server_name) if credentials.auth != "ntlm" else None
        session = Session(connection, user, None if credentials.ccache else credentials.password,
                          require_encryption=options.encrypt,
                          hostname_override=hostname, auth_protocol=credentials.auth)
        try:
            session.connect()
            # A fresh connection has ~64 credits; raise the window once so pipelines and reads flow.
            wire.warm_up_credits(connection, session.session_id, CREDIT_TARGET, options.timeout)
        except Exception as exc:
            raise errors.translate(exc, action=f"sign in to the file server as {credentials.principal}") from exc
        return session

    def _forget_connection(self, server_key: tuple) -> None:
        connection = self._connections.pop(server_key, None)
        for table in (self._sessions, self._trees):
            for key in [k for k in table if k[: len(server_key)] == server_key]:
                del table[key]
        if connection is not None:
            _quietly_disconnect(connection)


def _server_key(server: str, options: Options) -> tuple:
    # Signing and encryption are settings of the whole process, so in practice this is one
    # connection per (server, port); a client built with other options must not borrow it.
    return (server.lower(), options.port, options.require_signing, options.encrypt)


def _quietly_disconnect(connection: Connection) -> None:
    """Stop the receiver thread and close the socket of a connection we give up on."""
    try:
        if connection.transport is not None:
            connection.disconnect(close=False, timeout=1)
    except Exception:
        log.debug("error while dropping an SMB connection", exc_info=True)


_pool: Pool | None = None
_pool_lock = threading.Lock()


def get_pool() -> Pool:
    """This process's pool; a pool inherited through fork() is abandoned, never touched."""
    global _pool
    pid = os.getpid()
    with _pool_lock:
        if _pool is None or _pool.pid != pid:
            _pool = Pool()
        return _pool


def _after_fork_in_child() -> None:
    # The lock may have been held by another thread at fork time; the child starts with a new one.
    global _pool, _pool_lock
    _pool_lock = threading.Lock()
    _pool = None


os.register_at_fork(after_in_child=_after_fork_in_child)


def reset_pool() -> None:
    """Close this process's connections and start afresh (tests; worker start-up)."""
    global _pool
    with _pool_lock:
        old, _pool = _pool, None
    if old is not None and old.pid == os.getpid():
        old.close()
