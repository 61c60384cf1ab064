"""Schema for helpdesk acting-for sessions (restore/models/helpdesk.py)."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("restore", "0005_related_rules"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ActingFor",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("actor_username", models.CharField(max_length=256)),
                ("target_username", models.CharField(max_length=256)),
                ("ticket", models.CharField(max_length=64)),
                ("reason", models.CharField(max_length=500)),
                ("content_blind", models.BooleanField(default=False)),
                ("via", models.CharField(max_length=16)),
                ("started_at", models.DateTimeField()),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
                ("end_reason", models.CharField(blank=True, max_length=100)),
                ("actor", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                            to=settings.AUTH_USER_MODEL)),
                ("target", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                             to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name_plural": "acting-for sessions",
                "ordering": ["-started_at"],
                "indexes": [models.Index(fields=["actor", "ended_at"], name="restore_act_actor_i_a33faa_idx")],
            },
        ),
    ]
