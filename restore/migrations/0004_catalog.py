"""Schema for the snapshot catalog (restore/models/catalog.py).

On PostgreSQL, names are also indexed by trigrams (pg_trgm, a trusted extension the database owner
may create) so that a substring or glob search does not scan every name; without the extension the
search still works, by scanning."""

import django.db.models.deletion
from django.db import migrations, models

TRIGRAM_INDEX = "catalog_entry_name_trgm"


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SAVEPOINT catalog_trgm")
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:  # no privilege: searches scan instead
            cursor.execute("ROLLBACK TO SAVEPOINT catalog_trgm")
            print(f"\n  catalog: pg_trgm is not available ({exc}); name searches will scan")
            return
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON restore_catalogentry "
                       "USING gin (UPPER(name) gin_trgm_ops)")


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [("restore", "0003_restore_jobs")]
    operations = [
        migrations.CreateModel(
            name="CatalogSecurityDescriptor",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("sha256", models.CharField(max_length=64, unique=True)),
                ("data", models.BinaryField()),
            ],
        ),
        migrations.CreateModel(
            name="CatalogSource",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("server", models.CharField(max_length=255)),
                ("share", models.CharField(max_length=255)),
                ("path", models.CharField(blank=True, default="", max_length=1024)),
                ("enabled", models.BooleanField(default=True)),
                ("lease_owner", models.CharField(blank=True, default="", max_length=64)),
                ("lease_until", models.DateTimeField(blank=True, null=True)),
                ("requested_at", models.DateTimeField(blank=True, null=True)),
                ("last_run_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True, default="")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("server", "share", "path"), name="catalog_source_unique")],
            },
        ),
        migrations.CreateModel(
            name="CatalogEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("path", models.TextField()),
                ("path_key", models.CharField(max_length=40)),
                ("name", models.CharField(max_length=255)),
                ("is_dir", models.BooleanField()),
                ("digest", models.CharField(blank=True, default="", max_length=64)),
                ("listed_idx", models.IntegerField(blank=True, null=True)),
                ("parent", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE,
                                             related_name="+", to="restore.catalogentry")),
                ("source", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                             to="restore.catalogsource")),
            ],
            options={
                "verbose_name_plural": "catalog entries",
                "constraints": [models.UniqueConstraint(fields=("source", "path_key", "is_dir"),
                                                        name="catalog_entry_unique")],
            },
        ),
        migrations.CreateModel(
            name="CatalogVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("first_idx", models.IntegerField()),
                ("last_idx", models.IntegerField(blank=True, null=True)),
                ("size", models.BigIntegerField()),
                ("last_write", models.DateTimeField()),
                ("changed", models.DateTimeField()),
                ("attributes", models.IntegerField()),
                ("entry", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="versions",
                                            to="restore.catalogentry")),
                ("sd", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                         related_name="+", to="restore.catalogsecuritydescriptor")),
            ],
            options={
                "indexes": [models.Index(fields=["entry", "last_idx"], name="catalog_version_entry_last")],
            },
        ),
        migrations.CreateModel(
            name="CatalogSnapshot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("index", models.PositiveIntegerField()),
                ("token", models.CharField(max_length=32)),
                ("at", models.DateTimeField()),
                ("state", models.CharField(choices=[("pending", "Pending"), ("building", "Building"), ("done", "Done"),
                                                    ("failed", "Failed (retried on the next run)"),
                                                    ("gone", "Gone from the server")],
                                           default="pending", max_length=16)),
                ("acl_check", models.CharField(blank=True, default="", max_length=16)),
                ("complete", models.BooleanField(default=False)),
                ("folders_done", models.PositiveIntegerField(default=0)),
                ("folders_expected", models.PositiveIntegerField(blank=True, null=True)),
                ("objects_seen", models.PositiveIntegerField(default=0)),
                ("rows_written", models.PositiveIntegerField(default=0)),
                ("sd_reads", models.PositiveIntegerField(default=0)),
                ("unreadable_sds", models.PositiveIntegerField(default=0)),
                ("unlisted_folders", models.PositiveIntegerField(default=0)),
                ("unlisted", models.JSONField(blank=True, default=list)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("error", models.TextField(blank=True, default="")),
                ("source", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="snapshots",
                                             to="restore.catalogsource")),
            ],
            options={
                "ordering": ["source", "index"],
                "constraints": [
                    models.UniqueConstraint(fields=("source", "index"), name="catalog_snapshot_index_unique"),
                    models.UniqueConstraint(fields=("source", "token"), name="catalog_snapshot_token_unique"),
                ],
            },
        ),
        migrations.RunPython(create_trigram_index, drop_trigram_index, elidable=False),
    ]
