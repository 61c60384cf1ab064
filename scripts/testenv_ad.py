"""The test domain's standing characters, written straight into the DC's sam.ldb.

Run by scripts/testenv with Debian's python3 (it carries Samba's bindings), before the DC
starts: one process instead of a samba-tool call per object.

    testenv_ad.py SAM_LDB SMB_CONF PASSWORD SERVICE_ACCOUNT
"""

import sys

from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

HOST = "127.0.0.1"

# username: (given name, surname, groups). One password for all of them.
PEOPLE = {
    "alice": ("Alice", "Archer", ["Finance"]),
    "bob": ("Bob", "Baker", ["Finance"]),
    "carol": ("Carol", "Clark", []),
    "helpdesk1": ("Helen", "Desk", ["Restore Helpdesk"]),
    "auditor1": ("Audrey", "Tor", ["Restore Auditors"]),
    "dave": ("Dave", "Disabled", []),  # disabled: cannot sign in
    "admin1": ("Ada", "Admin", ["Domain Admins"]),  # protected: helpdesk may not act for them
}

# group: (description, member groups). "Restore Helpdesk" reaches the portal's helpdesk role
# only through its membership of "Portal Helpdesk" (nesting must count).
GROUPS = {
    "Finance": ("Finance department (shared folder)", []),
    "Portal Helpdesk": ("vdiprotect helpdesk role", ["Restore Helpdesk"]),
    "Restore Helpdesk": ("Service desk staff", []),
    "Restore Auditors": ("vdiprotect auditor role", []),
    "VDI Restore Service": ("Accounts that read snapshots and write restores", []),
}


def main(sam_ldb: str, smb_conf: str, password: str, service_account: str) -> None:
    lp = LoadParm()
    lp.load(smb_conf)
    samdb = SamDB(url=sam_ldb, session_info=system_session(), lp=lp)
    for group, (description, _) in GROUPS.items():
        samdb.newgroup(group, description=description)
    for username, (given, surname, _) in PEOPLE.items():
        samdb.newuser(
            username, password, useusernameascn=True, givenname=given, surname=surname,
            mailaddress=f"{username}@corp.example.test",
            profilepath=rf"\\{HOST}\profiles\{username}", homedirectory=rf"\\{HOST}\data\{username}",
            homedrive="H:",
        )
        samdb.setexpiry(f"(sAMAccountName={username})", 0, no_expiry_req=True)
    samdb.newuser(service_account, password, useusernameascn=True, description="vdiprotect service account")
    samdb.setexpiry(f"(sAMAccountName={service_account})", 0, no_expiry_req=True)

    for group, (_, member_groups) in GROUPS.items():
        members = [u for u, (_, _, groups) in PEOPLE.items() if group in groups] + member_groups
        if group == "VDI Restore Service":
            members.append(service_account)
        if members:
            samdb.add_remove_group_members(group, members)
    samdb.add_remove_group_members("Domain Admins", ["admin1"])
    samdb.disable_account("(sAMAccountName=dave)")
    delegation(samdb, service_account)


# userAccountControl bits ([MS-ADTS] 2.2.16)
NOT_DELEGATED = 0x100000  # "Account is sensitive and cannot be delegated"
TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000  # protocol transition (S4U2Self gives a forwardable ticket)


def delegation(samdb: SamDB, service_account: str) -> None:
    """Kerberos constrained delegation with protocol transition, as an AD administrator sets it up for
    SMB_AUTH=kerberos-delegation: the service account has an SPN of its own, may obtain tickets for
    anyone (S4U2Self) and pass them on to the file server's cifs service only (S4U2Proxy).
    admin1 is marked sensitive, as domain admins should be: the KDC refuses to delegate them."""
    realm = samdb.domain_dns_name()
    for name, flag, extra in (
        (service_account, TRUSTED_TO_AUTH_FOR_DELEGATION, {
            "servicePrincipalName": [f"HTTP/portal.{realm}", "HTTP/portal"],
            "msDS-AllowedToDelegateTo": [f"cifs/dc1.{realm}", "cifs/dc1"],
        }),
        ("admin1", NOT_DELEGATED, {}),
    ):
        dn, uac = _account(samdb, name)
        ldif = [f"dn: {dn}", "changetype: modify", "replace: userAccountControl",
                f"userAccountControl: {uac | flag}"]
        for attribute, values in extra.items():
            ldif += ["-", f"replace: {attribute}"] + [f"{attribute}: {v}" for v in values]
        samdb.modify_ldif("\n".join(ldif) + "\n")
    ldap_spns(samdb)


def ldap_spns(samdb: SamDB) -> None:
    """The DC's ldap/<name> SPNs, which LDAP_AUTH=gssapi asks tickets for. A DC registers them itself
    (samba_spnupdate, run by the dnsupdate service); this one is provisioned without DNS, so it does not."""
    realm = samdb.domain_dns_name()
    found = samdb.search(base=samdb.domain_dn(), expression="(sAMAccountName=DC1$)", attrs=["servicePrincipalName"])
    have = {str(v).lower() for v in found[0].get("servicePrincipalName", [])}
    wanted = [spn for spn in (f"ldap/dc1.{realm}", f"ldap/dc1.{realm}/{realm}", "ldap/DC1") if spn.lower() not in have]
    if wanted:
        samdb.modify_ldif("\n".join([f"dn: {found[0].dn}", "changetype: modify", "add: servicePrincipalName"]
                                    + [f"servicePrincipalName: {spn}" for spn in wanted]) + "\n")


def _account(samdb: SamDB, name: str) -> tuple[str, int]:
    found = samdb.search(base=samdb.domain_dn(), expression=f"(sAMAccountName={name})",
                         attrs=["userAccountControl"])
    return str(found[0].dn), int(found[0]["userAccountControl"][0])


if __name__ == "__main__":
    main(*sys.argv[1:5])
