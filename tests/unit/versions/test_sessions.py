"""What a person is told when the file server (or the domain) refuses them (versions/sessions.py)."""

from restore import smb
from restore.versions.sessions import refusal


def test_a_server_refusal_says_the_file_server_refused_and_what_to_do():
    message = refusal(smb.AccessDenied("access denied", status=0xC0000022, path=r"kcd\secret.txt"))
    assert message.startswith("The file server refused this (access denied: kcd\\secret.txt (STATUS_ACCESS_DENIED")
    assert "ask the folder's owner or the helpdesk" in message


def test_an_account_the_domain_will_not_delegate_is_told_why_in_its_own_words():
    refused = smb.NotDelegable("admin1", "dc1.corp.example.test")
    assert refusal(refused) == str(refused) and "sensitive and cannot be delegated" in refusal(refused)


def test_other_failures_are_not_refusals():
    for failure in (smb.NotFound("not found"), smb.ConnectionLost("gone"), smb.SmbError("busy"), ValueError("x")):
        assert refusal(failure) is None
