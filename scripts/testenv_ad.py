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


if __name__ == "__main__":
    main(*sys.argv[1:5])
