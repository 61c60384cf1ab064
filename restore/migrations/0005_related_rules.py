"""Schema for administrators' related-file rules (restore/models/related.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("restore", "0004_catalog")]
    operations = [
        migrations.CreateModel(
            name="RelatedRule",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(help_text="Lower-case letters, digits, '.', '_', '-'. The name of a built-in rule replaces it.", max_length=64, unique=True)),
                ("enabled", models.BooleanField(default=True, help_text="Untick to switch off the rule of this name.")),
                ("application", models.CharField(blank=True, help_text="Shown to the person, e.g. 'Mozilla Firefox'.", max_length=100)),
                ("reason", models.CharField(blank=True, help_text="One line shown to the person: why these files belong together.", max_length=300)),
                ("roots", models.CharField(default="*", help_text="Root kinds it applies to, comma-separated (profile, data), or * for any.", max_length=200)),
                ("match", models.TextField(blank=True, help_text="Globs on the path within the root, one per line, e.g. **/*.sqlite")),
                ("anchor", models.CharField(blank=True, help_text="Glob of an ancestor folder that 'set' paths are relative to (default: the file's folder).", max_length=500)),
                ("sidecars", models.CharField(blank=True, help_text="Extensions of same-stem files next to it, comma-separated, e.g. xmp, thm", max_length=500)),
                ("siblings", models.TextField(blank=True, help_text="File names next to it, one per line, with {name} {stem} {ext}, e.g. {name}-wal")),
                ("folders", models.TextField(blank=True, help_text="Folder names next to it, one per line, e.g. {stem}_files")),
                ("config_set", models.TextField(blank=True, help_text="Paths relative to the anchor, one per line; end a folder with /, e.g. snippets/", verbose_name="set")),
                ("streams", models.BooleanField(default=False, help_text="Also its alternate data streams (e.g. Zone.Identifier).")),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "related-file rule",
                "ordering": ["name"],
            },
        ),
    ]
