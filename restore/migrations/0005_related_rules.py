"""Schema for administrators' related-file rules (restore/models/related.py)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("restore", "0004_catalog")]
    operations = []
