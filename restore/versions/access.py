"""May a token read an object, given the security descriptor the file server (or a profile container's
$Secure) gave for it? Fails closed: what cannot be evaluated is not shown."""

from __future__ import annotations

import logging

from restore import smb
from restore.nt.access import Token, can_list_folder, can_read_file
from restore.nt.descriptors import SecurityDescriptorError, parse_security_descriptor

log = logging.getLogger(__name__)


def may_read(sd_bytes: bytes | smb.Unreadable, token: Token, is_dir: bool) -> bool:
    """May the token read this file (or list this folder)? Fails closed on a descriptor the server
    would not give (smb.UNREADABLE) or that cannot be parsed."""
    if isinstance(sd_bytes, smb.Unreadable):
        return False
    try:
        sd = parse_security_descriptor(sd_bytes)
    except SecurityDescriptorError as exc:  # fail closed: what cannot be evaluated is not shown
        log.warning("unreadable security descriptor, object hidden: %s", exc)
        return False
    return can_list_folder(sd, token) if is_dir else can_read_file(sd, token)
