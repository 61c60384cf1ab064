"""A restore job records whether content-blind mode applied when it was started (who asked and
for whom were already there: requested_by, owner); download jobs get the states of a stream
(sending, interrupted) and zip members the phase "sent".

Existing jobs were not started content-blind as far as anyone can tell now: False. Existing zip
members were marked "done" (restored and verified) with the one hash of the bytes read copied into
both hash fields; they become "sent" with that hash as the hash of what was sent, and nothing
claims a comparison that never happened.
"""

from django.db import migrations, models


def zip_members_were_sent_not_verified(apps, schema_editor):
    RestoreItem = apps.get_model("restore", "RestoreItem")
    RestoreItem.objects.filter(job__mode="download", phase="done").update(phase="sent", sha256_source="")


class Migration(migrations.Migration):

    dependencies = [
        ('restore', '0007_audit_append_only'),
    ]

    operations = [
        migrations.AddField(
            model_name='restorejob',
            name='content_blind',
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name='restoreitem',
            name='phase',
            field=models.CharField(choices=[('pending', 'Pending'), ('copied', 'Copied to a temporary name and verified'), ('kept', 'Current copy kept'), ('done', 'Restored and verified'), ('sent', 'Sent in the zip'), ('skipped', 'Skipped'), ('failed', 'Failed')], default='pending', max_length=16),
        ),
        migrations.AlterField(
            model_name='restorejob',
            name='state',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('partial', 'Done with problems'), ('failed', 'Failed'), ('cancelled', 'Cancelled'), ('ready', 'Ready to download'), ('sending', 'Download in progress'), ('interrupted', 'Download interrupted')], db_index=True, default='queued', max_length=16),
        ),
        migrations.RunPython(zip_members_were_sent_not_verified, migrations.RunPython.noop),
    ]
