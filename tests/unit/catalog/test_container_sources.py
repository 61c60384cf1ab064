"""Which folders of a container share are a person's (catalog/containers.py): the template's folder
component as a pattern, FSLogix's names in either order."""

import pytest

from restore.catalog.containers import folder_pattern

SID = "S-1-5-21-2966587652-1645361103-2622674001-1107"


@pytest.mark.parametrize("component, name, expected", [
    ("%SID%_%USERNAME%", f"{SID}_alice", {"SID": SID, "USERNAME": "alice"}),
    ("%USERNAME%_%SID%", f"alice_{SID}", {"SID": SID, "USERNAME": "alice"}),
    ("%sid%_%username%", f"{SID.lower()}_Alice.Smith", {"SID": SID.lower(), "USERNAME": "Alice.Smith"}),
    ("%USERNAME%_%SID%", f"first_last_{SID}", {"SID": SID, "USERNAME": "first_last"}),
    ("%USERDOMAIN%.%USERNAME%", "CORP.alice", {"USERDOMAIN": "CORP", "USERNAME": "alice"}),
    ("p-%USERNAME%-%USERNAME%", "p-bob-bob", {"USERNAME": "bob"}),
])
def test_a_person_folder_gives_the_values_its_template_was_filled_with(component, name, expected):
    found = folder_pattern(component).match(name)
    assert found is not None and found.groupdict() == expected


@pytest.mark.parametrize("component, name", [
    ("%SID%_%USERNAME%", "alice"),  # no SID
    ("%SID%_%USERNAME%", f"alice_{SID}"),  # the other order is a pattern of its own
    ("%SID%_%USERNAME%", f"{SID}_"),  # no name
    ("p-%USERNAME%-%USERNAME%", "p-bob-alice"),  # the same variable twice must be the same value
    ("%SID%.x_%USERNAME%", f"{SID}ax_alice"),  # literal parts are literal, not regular expressions
])
def test_other_folders_are_not_a_persons(component, name):
    assert folder_pattern(component).match(name) is None
