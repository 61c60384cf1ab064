"""People on the test file server: their own SMB credentials, in the test domain's protocol, and the
server's own view of whose sessions are open (smbstatus) for the Kerberos delegation tests.

The protocol is the test domain's SMB_AUTH_PROTOCOL (.testenv/env): ``ntlm`` normally, ``kerberos``
when the domain was built with NTLM disabled (``scripts/testenv up --no-ntlm``), so every test that
signs a person in over SMB works either way.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

from restore import smb
from restore.smb import kerberos
from restore.smb import pool as pool_module

SERVER = "127.0.0.1"


def protocol(testenv) -> str:
    """ntlm | kerberos | negotiate: how the test domain wants people to sign in over SMB (its env file,
    which scripts/test exports; an SMB_AUTH_PROTOCOL set over it applies to people and portal alike)."""
    return os.environ.get("SMB_AUTH_PROTOCOL") or testenv.facts.get("SMB_AUTH_PROTOCOL") or "ntlm"


def credentials(testenv, username: str, password: str | None = None) -> smb.Credentials:
    """``username``'s own credentials (their password; the test domain's protocol)."""
    password = testenv.password if password is None else password
    if protocol(testenv) == "kerberos":
        return smb.Credentials(f"{username}@{testenv.realm}", password, auth="kerberos")
    return smb.Credentials(username, password, testenv.domain, protocol(testenv))


def client(testenv, username: str, password: str | None = None, server: str = SERVER) -> smb.Client:
    """An SMB client signed in as ``username`` with their password."""
    return smb.client_for(server, credentials(testenv, username, password))


def use_delegation(settings, testenv, fallback: str = "refuse") -> None:
    """SMB_AUTH=kerberos-delegation against the test domain (its keytab, realm, cifs/ host name)."""
    settings.SMB_AUTH = "kerberos-delegation"
    settings.SMB_KEYTAB = testenv["TESTENV_KEYTAB"]
    settings.SMB_REALM = testenv.realm
    settings.SMB_KERBEROS_HOSTNAMES = {SERVER: testenv["TESTENV_DC_NAME"]}
    settings.SMB_DELEGATION_FALLBACK = fallback
    forget_sessions()


def forget_sessions() -> None:
    """No pooled session nor cached ticket survives into the next test."""
    smb.reset_pool()
    kerberos.forget_tickets()


def uid_of(testenv, username: str) -> int:
    """The Unix uid winbind maps ``username`` to: what smbstatus reports for that person's session."""
    out = subprocess.run(["wbinfo", "-i", f"{testenv.domain}\\{username}"], capture_output=True, text=True,
                         check=True).stdout
    return int(out.split(":")[2])


def server_sessions(testenv, options: pool_module.Options | None = None) -> list[dict]:
    """The sessions the file server holds on this process's pooled connection to it (matched by our
    socket's port), as ``smbstatus --json`` reports them."""
    connection = pool_module.get_pool().connection_for(SERVER, options or smb.settings_options())
    return sessions_on_ports(testenv, {str(connection.transport._sock.getsockname()[1])})


def sessions_on_ports(testenv, ports: set[str]) -> list[dict]:
    """The file server's sessions (``smbstatus --json``) whose client end is one of these local ports."""
    out = subprocess.run(["smbstatus", "-s", testenv["TESTENV_SMB_CONF"], "-b", "--json"], capture_output=True,
                         text=True, check=True).stdout
    return [s for s in json.loads(out).get("sessions", {}).values() if s["hostname"].rsplit(":", 1)[1] in ports]


def session_uids(testenv) -> set[int]:
    """The uids of the sessions the file server holds on our pooled connection."""
    return {s["uid"] for s in server_sessions(testenv)}


def ntlm_disabled(testenv) -> bool:
    """The test domain was built with ``ntlm auth = disabled``: it also refuses every LDAP simple bind."""
    return testenv.facts.get("TESTENV_NTLM") == "disabled"


def smbclient(testenv, share: str, username: str, *args: str) -> subprocess.CompletedProcess:
    """Samba's own smbclient on ``share`` as ``username`` (their password), in the domain's protocol:
    Kerberos needs the server's name (its SPN is cifs/<name>; the address has none)."""
    who = f"{testenv.domain}/{username}%{testenv.password}"
    how = [f"//{SERVER}/{share}", "-U", who]
    if protocol(testenv) == "kerberos":
        how = [f"//{testenv['TESTENV_DC_NAME']}/{share}", "-I", SERVER, "--use-kerberos=required",
               "-U", f"{username}@{testenv.realm}%{testenv.password}"]
    env = dict(os.environ, KRB5CCNAME=f"MEMORY:smbclient-{username}")
    return subprocess.run(["smbclient", *how, *args], capture_output=True, text=True, env=env)


def ldap_tool(testenv, tool: str, username: str, password: str, *args: str, stdin: str | None = None) -> str:
    """OpenLDAP's ``ldapsearch``/``ldapmodify`` against the DC as ``username`` (independent of our directory
    adapter): a simple bind over LDAPS, or with NTLM disabled (simple binds refused) a Kerberos one, from a
    ticket for their password in a cache of its own, with the TLS channel binding the DC checks."""
    env = dict(os.environ, LDAPTLS_CACERT=testenv["TESTENV_CA_FILE"], LDAPTLS_REQCERT="demand")
    if not ntlm_disabled(testenv):
        return subprocess.run([tool, "-H", testenv["TESTENV_LDAP_URI"], "-x", "-D", f"{username}@{testenv.realm.lower()}",
                               "-w", password, *args], input=stdin, env=env, check=True, capture_output=True,
                              text=True).stdout
    with tempfile.NamedTemporaryFile(prefix="ldap-tool-") as ccache:
        env["KRB5CCNAME"] = f"FILE:{ccache.name}"
        subprocess.run(["kinit", f"{username}@{testenv.realm}"], input=password + "\n", env=env, check=True,
                       capture_output=True, text=True)
        return subprocess.run([tool, "-H", f"ldaps://{testenv['TESTENV_DC_NAME']}:636", "-Y", "GSSAPI", "-Q", "-N",
                               "-O", "maxssf=0", "-o", "SASL_CBINDING=tls-endpoint", *args], input=stdin, env=env,
                              check=True, capture_output=True, text=True).stdout


def directory(testenv):
    """A bound Directory: alice's own simple bind; on a domain with NTLM disabled, which refuses every
    simple bind, the portal's own (LDAP_AUTH=gssapi from the env file: Kerberos from the keytab)."""
    from restore.directory.ldap import Directory

    if ntlm_disabled(testenv):
        return Directory()
    return Directory(f"alice@{testenv.realm.lower()}", testenv.password)
