"""Messages the services write in English (refusals, a restored item's note, a plan's problems) in
the reader's language, translated where they are shown: pages, API `detail`, emails.

The services keep writing plain English: the audit trail and the job rows stay in one language
whatever the person reads, and a worker has no reader. Each template below is a message as a
service writes it, with its variable parts named (``%(name)s``); ``translated`` finds the template a
message was made from and gives it back in the active language. A message without a template is
shown as written (English). The built-in related-file rules' applications and reasons
(restore/related/reasons.py) are translated the same way; an administrator's own rules are shown as
written. tests/unit/restores/test_messages.py checks that every template still matches its message
in the source.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from restore.related import reasons

TEMPLATES = (
    # paths (restore/versions/paths.py)
    _("path must be text"),
    _("path contains a NUL character"),
    _("path is longer than %(n)s characters"),
    _("UNC paths are not accepted: give a path relative to the root"),
    _("drive letters are not accepted: give a path relative to the root"),
    _("absolute paths are not accepted: give a path relative to the root"),
    _("path is deeper than %(n)s folders"),
    _("path contains an empty component (doubled separator)"),
    _("'%(name)s' is not accepted in a path"),
    _("a name is longer than %(n)s characters"),
    _("@GMT- snapshot tokens are not accepted in paths: use the 'at' parameter"),
    _("':' (alternate data stream syntax) is not accepted in names"),
    _("a name contains characters Windows does not allow: %(chars)s"),
    _("a name may not end with a space or a dot"),
    _("'%(name)s' is a reserved device name"),
    # snapshots (restore/versions/browse.py)
    _("'at' names no valid time"),
    _("'at' must be a snapshot id (@GMT-YYYY.MM.DD-HH.MM.SS) or an ISO 8601 UTC time"),
    _("'at' must carry a time zone (use Z for UTC)"),
    _("'at' is out of range"),
    _("give the path of a file"),
    # a restore's request, plan and items (restore/restores/)
    _("give the path of a file or folder below the root, not the root itself"),
    _("'at' must name a snapshot: a restore brings back an earlier version"),
    _("the same path is listed twice"),
    _("at most %(n)s items per restore"),
    _("a restore holds at most %(n)s files: choose fewer"),
    _("no such target folder"),
    _("choose the version to compare with the current file"),
    _("You may not create files in %(place)s."),
    _("You may not create folders in %(place)s."),
    _("You may not replace %(place)s."),
    _("You may not keep copies in %(place)s."),
    _("another item of this restore is written there"),
    _("a file of that name is in the way"),
    _("a folder of that name is in the way"),
    _("the folder is there; what it held then is restored into it"),
    _("the current copy is already this version"),
    _("the current copy is kept as '%(name)s'"),
    _("the current copy is kept as '%(name)s' in '%(folder)s'"),
    _("that folder is no longer among the person's folders"),
    _("it is no longer in that snapshot"),
    _("the person may not read it in that snapshot"),
    _("the person may not create folders in '%(place)s'"),
    _("the person may not create files in '%(place)s'"),
    _("the person may not replace '%(place)s'"),
    _("too many copies of %(name)s already"),
    _("too many restored copies of %(name)s already"),
    _("the copy did not verify (SHA-256 differs); nothing was put in place"),
    _("the stream %(name)s did not verify"),
    _("a content-blind helpdesk member may not download the person's files"),
    _("%(n)s item(s) failed"),
    _("the person this restore belongs to is gone"),
    _("cancelled"),
    _("%(who)s already has %(n)s restores queued or running; wait for one to finish or cancel one"),
    # sign-in (restore/accounts/backends.py)
    _("Wrong user name or password, or the account cannot sign in."),
    _("Enter your password."),
    _("Active Directory cannot be reached; try again shortly."),
    _("Your account is not allowed to use this portal."),
    # sign-in names (restore/accounts/identity.py); the domain's form before the suffix's, which would match it too
    _("Enter your user name."),
    _("That user name is too long."),
    _("Sign in with an account of the %(domain)s domain."),
    _("Sign in with an account of %(suffix)s."),
    _("That is not a valid user name (letters, digits, '.', '-' and '_', at most 20)."),
    # who may do what (restore/accounts/, restore/helpdesk/)
    _("Sign in with an Active Directory account that may use this portal."),
    _("Your account may not browse or restore files."),
    _("Content-blind helpdesk mode: you may restore for this user, not open their files."),
    # acting for someone (restore/helpdesk/)
    _("Acting for that user has ended; start again from the helpdesk page."),
    _("%(header)s names no active acting-for of yours; start one with POST /api/v1/helpdesk/act-for."),
    _("Acting for %(user)s expired; start again if the ticket still needs it."),
    _("Your account no longer has the helpdesk role."),
    _("Acting for %(user)s has ended: %(why)s."),
    _("Acting for someone needs the helpdesk role."),
    _("There is no user %(user)s."),
    _("A ticket reference is required to act for someone."),
    _("A ticket reference is at most %(n)s letters, digits and . _ : / # - (e.g. INC0012345)."),
    _("A reason is required to act for someone."),
    _("A reason is plain text of at most %(n)s characters."),
    _("Type %(min)s to %(max)s characters of a name, user name or mail address."),
    _("You cannot act for yourself."),
    _("%(user)s's account is disabled."),
    _("%(user)s does not use this portal."),
    _("%(user)s is a protected account (%(why)s); nobody can act for it."),
    _("%(user)s is outside your helpdesk group's scope."),
    # search (restore/catalog/logic.py)
    _("Type part of a file or folder name (at least 2 characters)."),
    _("The search text is longer than %(n)s characters."),
    _("Search by name only: names cannot contain %(chars)s."),
    _("Give at least 2 characters of the name besides * and ?."),
    # links (restore/versions/unc.py)
    _("give a UNC path such as \\\\server\\share\\folder"),
    _("drive letters cannot be opened here: give the UNC path (\\\\server\\share\\...)"),
    # related files a restore leaves out (restore/related/bundles.py)
    _("you cannot read it in this snapshot"),
    _("the portal cannot read its permissions"),
    # the portal's own answers
    _("Not found."),
    _("The file server did not answer; try again shortly."),
    _("The file server did not answer: %(error)s"),
)


@lru_cache(maxsize=1)
def _patterns() -> tuple[dict[str, str], list[tuple[re.Pattern, str]]]:
    exact, patterns = {text: text for text in reasons.TEXTS}, []  # the built-in related-file rules' texts
    for template in TEMPLATES:
        if "%(" not in template:
            exact[template] = template
            continue
        parts = re.split(r"%\((\w+)\)s", template)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        patterns.append((re.compile(regex + r"\Z", re.S), template))
    return exact, patterns


def translated(message) -> str:
    """``message`` (as a service wrote it) in the active language; as written when it has no template."""
    text = str(message)
    exact, patterns = _patterns()
    if text in exact:
        return gettext(text)
    for regex, template in patterns:
        found = regex.match(text)
        if found:
            return gettext(template) % found.groupdict()
    return text
