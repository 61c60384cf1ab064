"""What the test domain's Samba can do, by its version (TESTENV_SAMBA_VERSION from .testenv/env)."""

from __future__ import annotations

import os

import pytest


def samba_version() -> tuple[int, ...]:
    """The test domain's Samba version, e.g. (4, 22, 6); (4, 17) when the env file predates the record."""
    raw = os.environ.get("TESTENV_SAMBA_VERSION", "") or "4.17"
    return tuple(int(p) for p in raw.split(".") if p.isdigit())


DELETED_FOLDERS_417 = (
    "Samba 4.17 (Debian 12) answers OBJECT_PATH_NOT_FOUND to a TWrp CREATE of any object below a folder that no "
    "longer exists live, so its security descriptor cannot be read and the portal hides the object (fails "
    "closed); Samba 4.22 and Windows servers open these. scripts/testenv installs 4.22 from bookworm-backports "
    "when the package source offers it.")

# Objects inside a folder deleted live can be opened in a snapshot (Samba >= 4.22, Windows).
opens_inside_deleted_folders = pytest.mark.skipif(samba_version() < (4, 22), reason=DELETED_FOLDERS_417)
# The 4.17 behaviour: such objects stay hidden (fails closed), checked only where the server behaves so.
hides_inside_deleted_folders = pytest.mark.skipif(
    samba_version() >= (4, 22), reason="Samba 4.22 opens objects inside live-deleted folders: the test that "
    "they are found runs instead")
