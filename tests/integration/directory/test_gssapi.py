"""LDAP_AUTH=gssapi against the real test domain: the portal's lookups bind by SASL GSSAPI (Kerberos
from the service account's keytab) with no password configured at all; people still sign in with
their own password (a simple bind as them over LDAPS)."""

from __future__ import annotations

import pytest

from restore.directory.ldap import Directory, DirectoryError, kerberos_uri

pytestmark = [pytest.mark.samba]


@pytest.fixture
def gssapi(settings, testenv):
    settings.LDAP_AUTH = "gssapi"
    settings.LDAP_KEYTAB = testenv["TESTENV_KEYTAB"]
    settings.LDAP_BIND_PASSWORD = ""  # nothing to fall back on: a lookup that works used Kerberos
    settings.SMB_KERBEROS_HOSTNAMES = {testenv["TESTENV_HOST"]: testenv["TESTENV_DC_NAME"]}
    return settings


def test_the_uri_names_the_domain_controller_as_its_spn_does(gssapi, testenv):
    assert kerberos_uri("ldaps://127.0.0.1:636") == f"ldaps://{testenv['TESTENV_DC_NAME']}:636"
    assert kerberos_uri("ldaps://other.example.com") == "ldaps://other.example.com"


def test_a_person_is_looked_up_over_a_kerberos_bind_without_a_password(gssapi, testenv):
    with Directory() as directory:
        alice = directory.user_by_username("alice")
        assert alice is not None and alice.sid.startswith("S-1-5-21-")
        assert directory.token_groups(alice.dn)  # tokenGroups: the base search the portal's token needs
    assert alice.username == "alice"


@pytest.mark.django_db
def test_people_still_sign_in_with_their_password(gssapi, testenv):
    from django.test import Client

    response = Client().post("/signin/", {"username": "alice", "password": testenv.password})
    assert response.status_code == 302, response.content[:500]
    wrong = Client().post("/signin/", {"username": "bob", "password": "not his password"})
    assert wrong.status_code == 200 and not wrong.wsgi_request.user.is_authenticated


def test_a_missing_keytab_says_what_to_set(gssapi):
    gssapi.LDAP_KEYTAB = gssapi.SMB_KEYTAB = ""
    with pytest.raises(DirectoryError) as failed:
        Directory().__enter__()
    assert "LDAP_KEYTAB" in str(failed.value)
