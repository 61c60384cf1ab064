"""Changes to the live file system, for restores (and for test harnesses that build fixtures).

Nothing here ever writes into a snapshot: snapshot objects are only opened read-only (``wire.create``
refuses write access together with ``at``). None of these is retried after its request may have
reached the server (a retried create or rename could answer "already exists" for our own work).

Nothing here writes through a link. Every folder on the way to what is changed is checked first
(``_refuse_links``), and the object itself is opened with FILE_OPEN_REPARSE_POINT (the link, never
its target) and refused when the server says it is a reparse point: ReparsePoint, nothing written.
A folder is a link when the server reports FILE_ATTRIBUTE_REPARSE_POINT (Windows junctions and
symbolic links, mount points, DFS links) or when its ".." is not the folder above it (Samba follows
symbolic links inside a share without saying so; ".." is where the link really leads).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from datetime import datetime

from smbprotocol.file_info import FileInformationClass, InfoType
from django.conf import settings
from smbprotocol.ioctl import CtlCode
from smbprotocol.open import CreateDisposition, ShareAccess

from restore.smb import errors, packed, servercopy, wire
from restore.smb.handles import WriteHandle
from restore.smb.types import Entry, basic_information
from restore.smb.wire import OPEN_REPARSE_POINT

log = logging.getLogger(__name__)

_NO_MORE_FILES = 0x80000006
_ID_ENTRY = struct.Struct("<IIqqqqqqIIIIq")  # FileIdFullDirectoryInformation up to FileName: FileId last
FILE_INTERNAL_INFORMATION = 6
WRITE_ACCESS = (wire.FILE_READ_DATA | wire.FILE_WRITE_DATA | wire.FILE_APPEND_DATA | wire.FILE_READ_ATTRIBUTES
                | wire.FILE_WRITE_ATTRIBUTES | wire.FILE_WRITE_EA | wire.DELETE | wire.READ_CONTROL | wire.SYNCHRONIZE)
WRITE_SHARING = ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_DELETE  # nobody else writes meanwhile


class ChangesMixin:
    """Mixed into ``Client`` (which provides ``_run`` and ``_exchange``)."""

    def create_file(self, share: str, path: str, *, overwrite: bool = False) -> WriteHandle:
        """A new file (or ``file:stream``) opened for writing; AlreadyExists unless ``overwrite``."""
        disposition = CreateDisposition.FILE_OVERWRITE_IF if overwrite else CreateDisposition.FILE_CREATE

        def run(ex: wire.Exchange) -> WriteHandle:
            _refuse_links(ex, path, "create file")
            (opened,) = ex.call(wire.create(path, access=WRITE_ACCESS, disposition=disposition,
                                            options=wire.NON_DIRECTORY | OPEN_REPARSE_POINT, share=WRITE_SHARING,
                                            attributes=wire.FILE_ATTRIBUTE_NORMAL))
            _not_a_link(ex, opened.check(path, "create file"), path, "create file")
            return WriteHandle(ex, opened.file_id(), opened.entry(wire.name_of(path)), share, path,
                               **self.io_options())

        return self._run(share, run, path=path, action="create file", idempotent=overwrite)

    def mkdir(self, share: str, path: str) -> Entry:
        """Create a folder; AlreadyExists when the name is taken."""
        def run(ex: wire.Exchange) -> Entry:
            _refuse_links(ex, path, "create folder")
            opened, _ = ex.call(wire.create(path, access=wire.FILE_READ_ATTRIBUTES | wire.SYNCHRONIZE,
                                            disposition=CreateDisposition.FILE_CREATE,
                                            options=wire.DIRECTORY | OPEN_REPARSE_POINT,
                                            attributes=wire.FILE_ATTRIBUTE_DIRECTORY), wire.close())
            return opened.check(path, "create folder").entry(wire.name_of(path))

        return self._run(share, run, path=path, action="create folder", idempotent=False)

    def makedirs(self, share: str, path: str) -> list[str]:
        """Create ``path`` and any missing parents; returns the folders it created, outermost first
        (so a caller can remove exactly those again). Existing folders are left as they are."""
        created = []
        parts = [p for p in path.split("\\") if p]
        for depth in range(1, len(parts) + 1):
            folder = "\\".join(parts[:depth])
            try:
                self.mkdir(share, folder)
                created.append(folder)
            except errors.AlreadyExists:
                continue
        return created

    def delete(self, share: str, path: str) -> None:
        """Delete a file, a stream or an empty folder."""
        disposition = wire.set_info(InfoType.SMB2_0_INFO_FILE, FileInformationClass.FILE_DISPOSITION_INFORMATION,
                                    b"\x01")
        self._change(share, path, wire.DELETE | wire.FILE_READ_ATTRIBUTES, disposition, "delete", link_ok=True)

    def rename(self, share: str, path: str, new_path: str, replace: bool = False) -> None:
        """Rename/move within the share (``new_path`` is relative to the share root too)."""
        name = new_path.encode("utf-16-le")
        info = struct.pack("<B7xQI", 1 if replace else 0, 0, len(name)) + name  # FileRenameInformation (SMB2)
        rename = wire.set_info(InfoType.SMB2_0_INFO_FILE, FileInformationClass.FILE_RENAME_INFORMATION, info)
        self._change(share, path, wire.DELETE | wire.FILE_READ_ATTRIBUTES | wire.SYNCHRONIZE, rename, "rename",
                     also=new_path)

    def set_times(self, share: str, path: str, *, created: datetime | None = None,
                  last_write: datetime | None = None, last_access: datetime | None = None,
                  changed: datetime | None = None) -> None:
        """Set a live object's times (FileBasicInformation); what is None stays as it is."""
        basic = basic_information(created=created, last_write=last_write, last_access=last_access, changed=changed)
        request = wire.set_info(InfoType.SMB2_0_INFO_FILE, FileInformationClass.FILE_BASIC_INFORMATION, basic)
        self._change(share, path, wire.FILE_WRITE_ATTRIBUTES | wire.FILE_READ_ATTRIBUTES, request, "set times")

    def _change(self, share: str, path: str, access: int, request, action: str, *, link_ok: bool = False,
                also: str | None = None) -> None:
        """Open the live object itself (never what a link points at), refuse a link unless
        ``link_ok`` (a delete removes the link, not its target), then apply ``request`` to it.
        The folders above ``path`` (and above ``also``, a rename's new name) must not be links."""
        def run(ex: wire.Exchange) -> None:
            _refuse_links(ex, path, action)
            if also is not None:
                _refuse_links(ex, also, action)
            (opened,) = ex.call(wire.create(path, access=access, options=OPEN_REPARSE_POINT))
            opened.check(path, action)
            if not link_ok:
                _not_a_link(ex, opened, path, action)
            file_id = opened.file_id()
            request["file_id"] = file_id
            changed, _ = ex.call(request, wire.close(file_id))
            changed.check(path, action)

        self._run(share, run, path=path, action=action, idempotent=False)

    def server_side_copy(self, src_share: str, src_path: str, src_at: datetime | None, dst_share: str,
                         dst_path: str, *, progress: Callable[[int], None] | None = None,
                         clone: bool = True) -> servercopy.Copied:
        """Copy a file's bytes on the server (no data through us) into a *new* destination: the
        source is opened at the snapshot ``src_at`` (read-only) with FSCTL_SRV_REQUEST_RESUME_KEY,
        then a block clone is tried (same share, unless ``clone`` is False or the share refused one
        before) and copychunk does the rest, several requests in flight (``servercopy``).
        ``progress(bytes_done)`` after each request. Returns the bytes copied (``.method`` says
        how). A failed copy deletes the partial destination."""
        def run(src_ex: wire.Exchange) -> int:
            dst_ex = src_ex if dst_share.lower() == src_share.lower() else self._exchange(dst_share)
            source = wire.create(src_path, access=wire.FILE_READ_DATA | wire.FILE_READ_ATTRIBUTES | wire.SYNCHRONIZE,
                                 at=src_at, options=self.read_options(wire.NON_DIRECTORY))
            opened, key = src_ex.call(source, wire.ioctl(CtlCode.FSCTL_SRV_REQUEST_RESUME_KEY, max_output=32))
            opened.check(src_path, "open copy source")
            src_id = opened.file_id()
            try:
                resume_key = key.check(src_path, "request resume key").buffer()[:24]
                size = opened.entry("").size
                _refuse_links(dst_ex, dst_path, "create copy destination")
                (created,) = dst_ex.call(wire.create(dst_path, access=WRITE_ACCESS,
                                                     disposition=CreateDisposition.FILE_CREATE,
                                                     options=wire.NON_DIRECTORY | OPEN_REPARSE_POINT,
                                                     share=WRITE_SHARING, attributes=wire.FILE_ATTRIBUTE_NORMAL))
                _not_a_link(dst_ex, created.check(dst_path, "create copy destination"), dst_path,
                            "create copy destination")
                target = WriteHandle(dst_ex, created.file_id(), created.entry(""), dst_share, dst_path)
                try:
                    copied = servercopy.copy(dst_ex, server=self.server, share=dst_share, src_id=src_id,
                                             resume_key=resume_key, size=size, target=target, progress=progress,
                                             clone=clone and dst_ex is src_ex,
                                             depth=getattr(settings, "SMB_COPY_DEPTH", servercopy.COPY_DEPTH))
                except BaseException:
                    _discard_quietly(target)
                    raise
                target.close()
                return copied
            finally:
                src_ex.close_quietly(src_id)

        return self._run(src_share, run, path=src_path, action="server-side copy", idempotent=False)


def _discard_quietly(handle: WriteHandle) -> None:
    try:
        handle.discard()
    except Exception:
        log.warning("could not delete the partial copy %s", handle.path, exc_info=True)


# --- links -------------------------------------------------------------------------------------------


def _not_a_link(ex: wire.Exchange, opened: wire.Reply, path: str, action: str) -> None:
    """The object a CREATE opened (with FILE_OPEN_REPARSE_POINT) must not be a reparse point: else
    it is closed, unchanged, and ReparsePoint raised."""
    if opened.entry("").attributes & wire.FILE_ATTRIBUTE_REPARSE_POINT:
        ex.close_quietly(opened.file_id())
        raise errors.ReparsePoint(f"{action}: it is a link (reparse point); restores never write through links",
                                  path=path)


def _refuse_links(ex: wire.Exchange, path: str, action: str) -> None:
    """ReparsePoint when a folder on the way to ``path`` (below the share root) is a link.

    One pipelined round trip: each folder is opened itself (FILE_OPEN_REPARSE_POINT) for its
    attributes, and opened as a folder for its FileId and the FileId of its "..". A folder reported as a reparse point is a
    link; so is one whose ".." is not the folder above it (Samba follows a symbolic link inside the
    share silently on 4.17, but ".." is the parent of where it leads; 4.22 reports the link opened as
    itself as a reparse point). A folder that does not exist ends the
    check (it is created later, and checked then); one the server will not list is judged by its
    attributes alone."""
    parts = [p for p in path.split("\\") if p][:-1]
    if not parts:
        return
    folders = [""] + ["\\".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
    # Two compounds per folder, one round trip for all: the folder opened as itself for its attributes
    # only (Samba 4.22 reports a symbolic link so opened as a reparse point, but answers "not found"
    # when the open also asks to read data), then opened to list its ".." (Samba 4.17 never says a
    # followed link is one; its ".." gives it away).
    compounds = []
    for folder in folders:
        compounds.append([wire.create(folder, access=wire.FILE_READ_ATTRIBUTES | wire.SYNCHRONIZE,
                                      options=OPEN_REPARSE_POINT), wire.close()])
        compounds.append([wire.create(folder, access=wire.FILE_READ_ATTRIBUTES | wire.FILE_READ_DATA
                                      | wire.SYNCHRONIZE, options=wire.DIRECTORY | OPEN_REPARSE_POINT),
                          wire.query_info(InfoType.SMB2_0_INFO_FILE, FILE_INTERNAL_INFORMATION, max_output=8),
                          packed.query_directory(FileInformationClass.FILE_ID_FULL_DIRECTORY_INFORMATION, pattern="..",
                                                 restart=True, max_output=1024),
                          wire.close()])
    replies = ex.pipeline(compounds)
    above = None  # the FileId of the folder above
    for n, folder in enumerate(folders):
        (itself, itself_closed), (opened, internal, dotdot, closed) = replies[2 * n], replies[2 * n + 1]
        for open_reply, close_reply in ((itself, itself_closed), (opened, closed)):
            if not close_reply.ok and open_reply.ok:
                ex.close_quietly(open_reply.file_id())
        if itself.ok and folder and itself.entry("").attributes & wire.FILE_ATTRIBUTE_REPARSE_POINT:
            raise errors.ReparsePoint(f"{action}: the folder '{folder}' on the way is a link (reparse point); "
                                      "restores never write through links", path=path)
        if not opened.ok:
            err = errors.from_status(opened.status, folder, action)
            if isinstance(err, (errors.NotFound, errors.AccessDenied)) or err.status_name == "STATUS_NOT_A_DIRECTORY":
                return  # missing (created later, checked then) or the write itself will be refused
            raise err
        if folder and opened.entry("").attributes & wire.FILE_ATTRIBUTE_REPARSE_POINT:
            raise errors.ReparsePoint(f"{action}: the folder '{folder}' on the way is a link (reparse point); "
                                      "restores never write through links", path=path)
        own = struct.unpack("<q", internal.buffer()[:8])[0] if internal.ok else None
        parent = _dotdot_id(dotdot)
        if folder and own and parent and above and parent not in (own, above):
            raise errors.ReparsePoint(f"{action}: the folder '{folder}' on the way is a link to another folder; "
                                      "restores never write through links", path=path)
        above = own


def _dotdot_id(reply: wire.Reply) -> int | None:
    """The FileId the server gives the ".." entry of a folder listing; None when it gives none."""
    if not reply.ok or reply.status == _NO_MORE_FILES:
        return None
    buffer = reply.buffer()
    if len(buffer) < _ID_ENTRY.size:
        return None
    fields = _ID_ENTRY.unpack_from(buffer, 0)
    name = buffer[_ID_ENTRY.size:_ID_ENTRY.size + fields[9]].decode("utf-16-le", "replace")
    return fields[12] if name == ".." else None
