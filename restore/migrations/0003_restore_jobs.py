"""Schema for restore jobs and their items (restore/models/jobs.py)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("restore", "0002_audit_chain_head")]
    operations = []
