"""The real servers the suite runs against answer: Samba AD over LDAPS and StartTLS, its shares
over SMB with Previous Versions, Redis (cache and Celery broker) and PostgreSQL."""

from __future__ import annotations

import ssl

import ldap
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from restore import smb
from restore.directory import passwords
from restore.directory.ldap import Directory, InvalidCredentials
from tests.support import people

pytestmark = pytest.mark.samba


def test_alice_binds_over_ldaps_with_the_certificate_verified(testenv, settings):
    assert settings.LDAP_URI.startswith("ldaps://")
    with people.directory(testenv) as directory:
        assert directory.user_by_username("alice").display_name == "Alice Archer"


def test_with_ntlm_disabled_the_dc_refuses_simple_binds_and_kerberos_checks_passwords(testenv, settings):
    if not people.ntlm_disabled(testenv):
        pytest.skip("the test domain allows NTLM (scripts/testenv up --no-ntlm builds one that does not)")
    assert (settings.LDAP_AUTH, settings.LDAP_PASSWORD_CHECK) == ("gssapi", "kerberos")
    with pytest.raises(InvalidCredentials):  # NT_STATUS_NTLM_BLOCKED ("data 418"), for the right password
        Directory(f"alice@{testenv.realm.lower()}", testenv.password).__enter__()
    assert passwords.password_is_good("alice", testenv.password)


def test_starttls_works_and_a_plain_simple_bind_is_refused_by_the_dc(testenv, settings):
    settings.LDAP_URI, settings.LDAP_START_TLS = testenv["TESTENV_LDAP_STARTTLS_URI"], True
    with people.directory(testenv) as directory:
        assert directory.user_by_username("bob").username == "bob"
    plain = ldap.initialize(testenv["TESTENV_LDAP_STARTTLS_URI"])
    with pytest.raises(ldap.STRONG_AUTH_REQUIRED):
        plain.simple_bind_s(f"alice@{testenv.realm.lower()}", testenv.password)


def test_the_domain_sid_comes_from_the_rootdse_naming_context(testenv):
    with people.directory(testenv) as directory:
        assert directory.base_dn() == testenv["TESTENV_BASE_DN"]
        alice_sid = directory.user_by_username("alice").sid
        assert alice_sid.rsplit("-", 1)[0] == directory.domain_sid()


def test_without_a_user_group_setting_every_domain_user_is_a_portal_user(testenv, settings):
    from restore.accounts.identity import role_group_sids
    from restore.models import Role

    settings.ROLE_USER_GROUP = ""
    with people.directory(testenv) as directory:
        sids = role_group_sids(directory)
        assert sids[Role.USER] == directory.domain_sid() + "-513"
        assert sids[Role.USER] in directory.token_groups(directory.user_by_username("carol").dn)


def test_a_wrong_password_is_refused_by_the_dc(testenv):
    with pytest.raises(InvalidCredentials):
        Directory(f"alice@{testenv.realm.lower()}", "not-her-password").__enter__()


def test_the_dc_certificate_is_signed_by_the_test_ca_for_127_0_0_1(testenv):
    context = ssl.create_default_context(cafile=testenv["TESTENV_CA_FILE"])
    with context.wrap_socket(__import__("socket").create_connection(("127.0.0.1", 636), timeout=5),
                             server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_service_account_lists_alices_data_folder_over_smb(testenv):
    names = {e.name for e in smb.client_for("127.0.0.1").list_dir("data", "alice")}
    on_disk = {p.name for p in (testenv.share_path("data") / "alice").iterdir()}
    assert names == on_disk and {"Documents", "Pictures", "Desktop"} <= names


def test_snapshots_enumerated_over_smb_are_the_snapshot_directories(testenv):
    found = smb.client_for("127.0.0.1").enumerate_snapshots("data", "alice")
    on_disk = sorted(p.name for p in testenv.snapdir("data").iterdir())
    assert sorted(s.token for s in found) == on_disk
    assert len(found) >= 3


def test_samba_itself_refuses_alice_in_bobs_folder(testenv):
    """The file server decides access: smbclient as alice cannot list bob's folder."""
    result = people.smbclient(testenv, "data", "alice", "-c", "ls bob\\*")
    assert "NT_STATUS_ACCESS_DENIED" in result.stdout + result.stderr
    mine = people.smbclient(testenv, "data", "alice", "-c", "ls alice\\*")
    assert mine.returncode == 0 and "Documents" in mine.stdout, mine.stdout + mine.stderr


def test_redis_answers_as_cache_and_broker():
    cache.set("foundation-probe", "pong", 5)
    assert cache.get("foundation-probe") == "pong"
    from vdiprotect.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.connected and settings.CELERY_BROKER_URL.startswith("redis://")


@pytest.mark.django_db
def test_the_suite_runs_on_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        assert "PostgreSQL" in cursor.fetchone()[0]
