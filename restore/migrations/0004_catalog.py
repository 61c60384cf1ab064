"""Schema for the snapshot catalog (restore/models/catalog.py)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("restore", "0003_restore_jobs")]
    operations = []
