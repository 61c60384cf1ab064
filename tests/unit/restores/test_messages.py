"""restore/restores/messages.py: the services' English messages in the reader's language. Each template
still matches what its service writes (a changed message would quietly stay English otherwise), and a
message is translated whole, with its variable parts kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

from restore.restores.messages import TEMPLATES, translated
from restore.versions import paths

SOURCE = "\n".join(p.read_text() for p in (Path(__file__).resolve().parents[3] / "restore").rglob("*.py")
                   if p.name != "messages.py")
SOURCE = re.sub(r'"\s*\n\s*f?"', "", SOURCE)  # "...wait for one to "\n "finish..." is one message
CHOICE = re.compile(r"\{'([^']*)' if [^{}]* else '([^']*)'\}")  # f"...{'folders' if is_dir else 'files'}..."
WRITTEN = [SOURCE, CHOICE.sub(r"\1", SOURCE), CHOICE.sub(r"\2", SOURCE)]


def literal_parts(template: str) -> list[str]:
    return [part for part in re.split(r"%\(\w+\)s", template) if len(part.strip()) > 3]


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_is_still_a_message_of_the_services(template):
    written = WRITTEN + [w.replace("\\\\", "\\") for w in WRITTEN]  # the source writes a backslash as two
    missing = [part for part in literal_parts(template) if not any(part in w for w in written)]
    assert not missing, f"{template!r}: no service writes {missing} any more; update TEMPLATES"


def test_a_message_is_translated_with_its_variable_parts():
    with pytest.raises(paths.PathError) as refused:
        paths.normalize("Documents/../../bob")
    with translation.override("de"):
        assert translated(refused.value) == "„..“ ist in einem Pfad nicht erlaubt"
        assert translated("at most 200 items per restore") == "höchstens 200 Elemente pro Wiederherstellung"
        assert translated("something no template knows") == "something no template knows"
    with translation.override("en"):
        assert translated(refused.value) == "'..' is not accepted in a path"
