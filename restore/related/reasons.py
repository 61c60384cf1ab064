"""The built-in related-file rules' texts (restore/related/related_rules.toml), marked for translation.

The rules keep their ``application`` and ``reason`` in English, as the TOML has them; pages and the API
show them in the reader's language with restore/restores/messages.py (``translated``), which finds them
here. makemessages reads no TOML, so each built-in text is repeated below, and
tests/unit/related/test_reasons.py fails when the two drift apart. An administrator's own rules
(RELATED_RULES_FILE, the admin) have no catalog entries: they are shown as written.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop as _

APPLICATIONS = (
    _("Mozilla Firefox"),
    _("Google Chrome"),
    _("Microsoft Edge"),
    _("Microsoft Outlook"),
    _("Microsoft Office"),
    _("Notepad++"),
    _("Visual Studio Code"),
    _("Microsoft Sticky Notes"),
    _("Mozilla Thunderbird"),
    _("Microsoft Teams (new)"),
    _("Windows Terminal"),
    _("KeePass / KeePassXC"),
    _("JetBrains IDEs"),
    _("Microsoft OneNote"),
    _("Adobe Acrobat"),
    _("GIS (Esri shapefile)"),
    _("Photo editors and cameras"),
    _("SQLite databases"),
    _("Windows Explorer"),
    _("Windows"),
)

REASONS = (
    # firefox-profile
    _("Firefox keeps bookmarks and history in places.sqlite, their icons in favicons.sqlite and the settings "
      "that go with them in prefs.js; from different days they do not match."),
    # chrome-profile
    _("Chrome falls back to Bookmarks.bak and checks Preferences against Secure Preferences; restored apart, it "
      "may throw your bookmarks or settings away."),
    # edge-profile
    _("Edge falls back to Bookmarks.bak and checks Preferences against Secure Preferences; restored apart, it "
      "may throw your favorites or settings away."),
    # outlook-signature
    _("An Outlook signature is an .htm, an .rtf and a .txt file (one per message format) plus a _files folder "
      "with its pictures."),
    # office-user-settings
    _("Your custom dictionaries and Word's Normal template (styles, AutoText, macros) are Office's own settings "
      "for you; restore them together."),
    # notepad-plus-plus
    _("Notepad++ reads its settings, open files (session.xml), shortcuts and styles from these files together."),
    # vscode-user-settings
    _("VS Code's user settings, key bindings and snippets are one configuration; restore them together."),
    # sticky-notes
    _("Sticky Notes keeps your notes in plum.sqlite; the newest ones may still be in plum.sqlite-wal, so the "
      "three files belong together."),
    # thunderbird-profile
    _("Thunderbird's accounts (prefs.js), address book (abook.sqlite) and saved passwords (logins.json, readable "
      "only with key4.db) work only as a set from the same day."),
    # teams-settings
    _("New Teams keeps your settings in app_settings.json and the meeting backgrounds you uploaded in "
      "Backgrounds\\Uploads."),
    # windows-terminal
    _("Windows Terminal reads its profiles and key bindings from settings.json and what it generated from them "
      "from state.json; restored apart they disagree."),
    # keepass-database
    _("A KeePass database opened with a key file cannot be opened without it: the key file of the same name "
      "comes with it."),
    # jetbrains-settings
    _("A JetBrains IDE (IntelliJ IDEA, PyCharm, Rider...) keeps its settings, key maps and code styles in these "
      "folders, which refer to each other."),
    # onenote-cache
    _("OneNote's local cache (notebook changes not yet synced) is a set of .bin files read together; one alone "
      "is of no use."),
    # acrobat-settings
    _("Acrobat's trusted certificates (addressbook.acrodata) and your custom stamps are your Acrobat settings; "
      "restore them together."),
    # shapefile
    _("A shapefile is several files of the same name (.shp shapes, .shx index, .dbf attributes, .prj projection, "
      ".cpg encoding); GIS software needs all of them."),
    # photo-sidecars
    _("Photo editors keep your edits, ratings and keywords in an .xmp sidecar, and cameras a .thm preview, next "
      "to the photo."),
    # sqlite-journal
    _("SQLite keeps the latest changes in the -wal or -journal file (and an index in -shm); the database is only "
      "complete with them."),
    # sqlite-database
    _("A -wal, -shm or -journal file is part of its SQLite database and of no use without it."),
    # folder-desktop-ini
    _("desktop.ini gives the folder its icon and display name; it comes back with the folder's files."),
    # alternate-data-streams
    _("Windows keeps extra data with a file in alternate data streams, such as Zone.Identifier (the mark that it "
      "came from the Internet)."),
)

TEXTS = APPLICATIONS + REASONS
