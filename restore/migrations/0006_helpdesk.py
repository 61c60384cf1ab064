"""Schema for helpdesk acting-for sessions (restore/models/helpdesk.py)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("restore", "0005_related_rules")]
    operations = []
