"""Names a restore gives: restored copies, kept current copies, numbered alternatives and temporary files."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

# --- names -----------------------------------------------------------------------------------------


def split_name(name: str, is_dir: bool = False) -> tuple[str, str]:
    """('report', '.docx'); folders and dot-files ('.bashrc') have no extension."""
    stem, dot, ext = name.rpartition(".")
    if is_dir or not dot or not stem:
        return name, ""
    return stem, "." + ext


def _stamp(when: datetime) -> str:
    return timezone.localtime(when, timezone.get_default_timezone()).strftime("%Y-%m-%d %H%M")


def restored_name(name: str, snapshot_time: datetime, is_dir: bool = False) -> str:
    stem, ext = split_name(name, is_dir)
    return f"{stem} (restored {_stamp(snapshot_time)}){ext}"


def kept_name(name: str, now: datetime, is_dir: bool = False) -> str:
    stem, ext = split_name(name, is_dir)
    return f"{stem} (before restore {_stamp(now)}){ext}"


def numbered(name: str, n: int, is_dir: bool = False) -> str:
    stem, ext = split_name(name, is_dir)
    return f"{stem} ({n}){ext}"


def temp_name(item_id: int) -> str:
    return f"~vdiprotect-{item_id}.tmp"
