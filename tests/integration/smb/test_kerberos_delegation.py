"""SMB_AUTH=kerberos-delegation against the real Samba AD test domain: the session belongs to the person
(S4U2Self + S4U2Proxy from the service account's keytab), so the file server itself decides every open.

The oracle is the server: ``smbstatus --json`` says whose each session is (by uid, mapped with wbinfo),
and an open that the file's ACL does not allow the person is refused there, whatever the portal thinks.
"""

from __future__ import annotations

import pytest

from restore import smb
from restore.smb import kerberos
from restore.smb import pool as pool_module
from tests.support.people import server_sessions, uid_of
from tests.support.scratch import ScratchArea

pytestmark = [pytest.mark.samba]

SERVER = "127.0.0.1"


def test_alices_session_is_alice_on_the_file_server(delegation, testenv):
    client = smb.client_for_person(SERVER, "alice")
    names = {e.name for e in client.list_dir("data", "alice")}
    assert "Documents" in names
    session = pool_module.get_pool().session_for(SERVER, client.options, client.credentials)
    assert session is not None
    uids = {s["uid"] for s in server_sessions(testenv, client.options)}
    assert uid_of(testenv, "alice") in uids
    assert uid_of(testenv, testenv["TESTENV_SERVICE_ACCOUNT"]) not in uids  # nothing else on it went as svc


def test_the_server_refuses_alice_what_only_the_service_account_may_read(delegation, testenv):
    area = ScratchArea(testenv, prefix="kcd").create()
    try:
        area.write("secret.txt", b"for the service account only")
        area.set_acl("secret.txt", {})  # SYSTEM and the service group; alice stays owner, with no read right
        assert area.svc.sha256("scratch", area.path("secret.txt"))  # the service account reads it
        as_alice = smb.client_for_person(SERVER, "alice")
        with pytest.raises(smb.AccessDenied):  # no portal check in between: the server decided
            with as_alice.open_read("scratch", area.path("secret.txt")) as handle:
                handle.read(0, 10)
    finally:
        area.remove()


def test_bob_reads_as_bob_and_not_alices_files(delegation, testenv):
    as_bob = smb.client_for_person(SERVER, "bob")
    assert as_bob.list_dir("data", "bob") is not None
    with pytest.raises(smb.AccessDenied):
        as_bob.list_dir("data", "alice\\Documents")
    assert uid_of(testenv, "bob") in {s["uid"] for s in server_sessions(testenv, as_bob.options)}


def test_a_sensitive_account_is_told_it_cannot_be_delegated(delegation):
    with pytest.raises(smb.NotDelegable) as refused:
        smb.client_for_person(SERVER, "admin1").list_dir("data", "")
    message = str(refused.value)
    assert "admin1" in message and "sensitive" in message and "Protected Users" in message


def test_the_fallback_policy_reads_as_the_service_account_and_says_so(delegation):
    delegation.SMB_DELEGATION_FALLBACK = "service-account"
    told = []
    client = smb.client_for_person(SERVER, "admin1", on_fallback=told.append)
    assert not client.credentials.delegated and client.list_dir("data", "") is not None
    assert len(told) == 1 and isinstance(told[0], smb.NotDelegable)


def test_people_sessions_are_logged_off_when_idle(delegation, testenv):
    delegation.SMB_PERSON_SESSION_IDLE = 0
    as_alice = smb.client_for_person(SERVER, "alice")
    as_alice.list_dir("data", "alice")
    pool = pool_module.get_pool()
    assert pool.session_for(SERVER, as_alice.options, as_alice.credentials) is not None
    smb.client_for(SERVER).list_dir("data", "")  # any later use sweeps idle sessions
    assert pool.session_for(SERVER, as_alice.options, as_alice.credentials) is None
    assert uid_of(testenv, "alice") not in {s["uid"] for s in server_sessions(testenv, as_alice.options)}


def test_tickets_are_reused_until_they_expire(delegation):
    first = kerberos.delegated("alice", SERVER)
    assert kerberos.delegated("alice", SERVER).ccache == first.ccache
    assert kerberos.delegated("bob", SERVER).ccache != first.ccache


def test_the_service_account_signs_in_with_kerberos_from_its_keytab(settings, testenv):
    settings.SMB_AUTH = "service-account"
    settings.SMB_AUTH_PROTOCOL = "kerberos"
    settings.SMB_KEYTAB = testenv["TESTENV_KEYTAB"]
    settings.SMB_REALM = testenv.realm
    settings.SMB_KERBEROS_HOSTNAMES = {SERVER: testenv["TESTENV_DC_NAME"]}
    smb.reset_pool()
    try:
        client = smb.client_for(SERVER)
        assert client.credentials.ccache and client.credentials.auth == "kerberos"
        assert {e.name for e in client.list_dir("data", "")} >= {"alice", "bob"}
        settings.SMB_KEYTAB = ""  # with its password instead: still Kerberos, no NTLM
        smb.reset_pool()
        client = smb.client_for(SERVER)
        assert client.credentials.principal == f"{testenv['TESTENV_SERVICE_ACCOUNT']}@{testenv.realm}"
        assert {e.name for e in client.list_dir("data", "")} >= {"alice", "bob"}
    finally:
        smb.reset_pool()
        kerberos.forget_tickets()


def test_a_wrong_keytab_says_what_to_check(delegation, tmp_path):
    delegation.SMB_KEYTAB = str(tmp_path / "missing.keytab")
    with pytest.raises(smb.KerberosError) as failed:
        smb.client_for_person(SERVER, "alice")
    assert "SMB_KEYTAB" in str(failed.value)
