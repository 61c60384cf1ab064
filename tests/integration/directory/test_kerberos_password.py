"""LDAP_PASSWORD_CHECK=kerberos against the real test domain's KDC: a person's password gets a TGT,
the TGT a ticket to the portal's own principal, and the portal accepts that ticket with its keytab
before the password counts (a KDC that does not know the portal's key cannot vouch for anyone).
The domain runs Kerberos with NTLM on or off, so these run in both modes."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from restore.directory import passwords
from restore.directory.ldap import DirectoryError
from restore.models import AuditEvent

pytestmark = [pytest.mark.samba]


@pytest.fixture
def kerberos_check(settings, testenv):
    settings.LDAP_PASSWORD_CHECK = "kerberos"
    settings.LDAP_KEYTAB = testenv["TESTENV_KEYTAB"]
    settings.SMB_REALM = testenv.realm
    settings.LDAP_PASSWORD_SPN = ""
    return settings


def failed_reasons():
    return list(AuditEvent.objects.filter(action="sign_in", result="failed").values_list("details__reason", flat=True))


def test_the_right_password_is_good_and_a_wrong_one_or_a_disabled_account_is_not(kerberos_check, testenv):
    assert passwords.password_is_good("alice", testenv.password)
    assert not passwords.password_is_good("alice", "not her password")
    assert not passwords.password_is_good("dave", testenv.password)  # disabled: the KDC revokes him
    assert not passwords.password_is_good("nobody-by-this-name", testenv.password)


def test_a_ticket_the_keytab_cannot_accept_fails_closed(kerberos_check, testenv):
    """The KDC hands out a good TGT and a good ticket, but to a principal whose key the portal does not
    hold (the file server's cifs/ SPN): the ticket cannot be accepted, so the right password is refused,
    as it would be for a KDC that does not know the portal's key."""
    kerberos_check.LDAP_PASSWORD_SPN = f"cifs/{testenv['TESTENV_DC_NAME']}@{testenv.realm}"
    assert not passwords.password_is_good("alice", testenv.password)
    kerberos_check.LDAP_PASSWORD_SPN = f"{testenv['TESTENV_SERVICE_ACCOUNT']}@{testenv.realm}"
    assert passwords.password_is_good("alice", testenv.password)


@pytest.mark.django_db
def test_people_sign_in_with_kerberos_and_get_the_user_the_ldap_bind_would_give(kerberos_check, testenv):
    response = Client().post("/signin/", {"username": "CORP\\Alice", "password": testenv.password})
    assert response.status_code == 302, response.content[:500]
    user = get_user_model().objects.get(username="alice")
    assert (user.first_name, user.last_name, user.has_usable_password()) == ("Alice", "Archer", False)
    assert user.identity.username == "alice"
    again = Client().post("/signin/", {"username": "alice", "password": testenv.password})
    assert again.status_code == 302 and get_user_model().objects.filter(username__iexact="alice").count() == 1


@pytest.mark.django_db
def test_a_wrong_password_or_a_disabled_account_gets_the_generic_refusal(kerberos_check, testenv):
    wrong = Client().post("/signin/", {"username": "bob", "password": "not his password"})
    disabled = Client().post("/signin/", {"username": "dave", "password": testenv.password})
    for response in (wrong, disabled):
        assert response.status_code == 200 and not response.wsgi_request.user.is_authenticated
        assert b"Wrong user name or password" in response.content
    assert sorted(failed_reasons()) == ["account disabled", "wrong password"]


@pytest.mark.django_db
def test_a_kdc_that_does_not_answer_means_the_directory_cannot_be_reached(kerberos_check, testenv, tmp_path,
                                                                          monkeypatch):
    conf = tmp_path / "krb5.conf"
    conf.write_text(f"[libdefaults]\n\tdefault_realm = {testenv.realm}\n\tdns_lookup_kdc = false\n"
                    f"[realms]\n\t{testenv.realm} = {{\n\t\tkdc = 127.0.0.1:1\n\t}}\n")
    monkeypatch.setenv("KRB5_CONFIG", str(conf))
    with pytest.raises(DirectoryError):
        passwords.password_is_good("alice", testenv.password)
    response = Client().post("/signin/", {"username": "alice", "password": testenv.password})
    assert response.status_code == 200 and b"Active Directory cannot be reached" in response.content
    assert failed_reasons() == ["directory unavailable"]


def test_without_a_keytab_the_check_says_what_to_set(kerberos_check):
    kerberos_check.LDAP_KEYTAB = kerberos_check.SMB_KEYTAB = ""
    with pytest.raises(DirectoryError) as failed:
        passwords.password_is_good("alice", "x")
    assert "LDAP_KEYTAB" in str(failed.value)
