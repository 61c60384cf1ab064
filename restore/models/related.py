"""Related-file rules administrators add or override in the Django admin (see restore/related/rules.py;
the admin form validates a rule with the same parser as a rule file)."""

from django.db import models


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class RelatedRule(models.Model):
    """One rule, in the same terms as a [[rule]] of a rule file. A rule named like a built-in (or a
    rule of RELATED_RULES_FILE) replaces it; ``enabled`` off switches that rule off."""

    name = models.CharField(max_length=64, unique=True,
                            help_text="Lower-case letters, digits, '.', '_', '-'. The name of a built-in rule replaces it.")
    enabled = models.BooleanField(default=True, help_text="Untick to switch off the rule of this name.")
    application = models.CharField(max_length=100, blank=True, help_text="Shown to the person, e.g. 'Mozilla Firefox'.")
    reason = models.CharField(max_length=300, blank=True, help_text="One line shown to the person: why these files belong together.")
    roots = models.CharField(max_length=200, default="*",
                             help_text="Root kinds it applies to, comma-separated (profile, data), or * for any.")
    match = models.TextField(blank=True, help_text="Globs on the path within the root, one per line, e.g. **/*.sqlite")
    anchor = models.CharField(max_length=500, blank=True,
                              help_text="Glob of an ancestor folder that 'set' paths are relative to (default: the file's folder).")
    sidecars = models.CharField(max_length=500, blank=True,
                                help_text="Extensions of same-stem files next to it, comma-separated, e.g. xmp, thm")
    siblings = models.TextField(blank=True, help_text="File names next to it, one per line, with {name} {stem} {ext}, e.g. {name}-wal")
    folders = models.TextField(blank=True, help_text="Folder names next to it, one per line, e.g. {stem}_files")
    config_set = models.TextField("set", blank=True,
                                  help_text="Paths relative to the anchor, one per line; end a folder with /, e.g. snippets/")
    streams = models.BooleanField(default=False, help_text="Also its alternate data streams (e.g. Zone.Identifier).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "related-file rule"

    def __str__(self):
        return self.name

    def as_rule_data(self) -> dict:
        """The rule as the table a rule file would hold (what restore.related.rules.parse_rule reads)."""
        data = {"name": self.name, "enabled": self.enabled, "application": self.application,
                "reason": self.reason, "root": [r.strip() for r in self.roots.split(",") if r.strip()],
                "match": _lines(self.match), "streams": self.streams}
        if self.anchor.strip():
            data["anchor"] = self.anchor.strip()
        sidecars = [s.strip() for s in self.sidecars.replace(",", " ").split()]
        for key, values in (("sidecars", sidecars), ("siblings", _lines(self.siblings)),
                            ("folders", _lines(self.folders)), ("set", _lines(self.config_set))):
            if values:
                data[key] = values
        return data
