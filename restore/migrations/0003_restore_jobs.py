"""Schema for restore jobs and their items (restore/models/jobs.py)."""
import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('restore', '0002_audit_chain_head'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='RestoreJob',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('owner_username', models.CharField(max_length=256)),
                ('requested_by_username', models.CharField(max_length=256)),
                ('role', models.CharField(blank=True, max_length=16)),
                ('ticket', models.CharField(blank=True, max_length=64)),
                ('reason', models.CharField(blank=True, max_length=500)),
                ('mode', models.CharField(choices=[('alongside', 'Alongside the original'), ('replace', 'Replace (the current copy is kept)'), ('to_folder', 'Into another folder'), ('download', 'Download as a zip')], max_length=16)),
                ('conflict', models.CharField(choices=[('rename', 'Rename the restored copy'), ('skip', 'Skip it'), ('overwrite', 'Overwrite, keeping the current copy')], max_length=16)),
                ('target_root', models.CharField(blank=True, max_length=64)),
                ('target_path', models.TextField(blank=True)),
                ('request', models.JSONField(default=dict)),
                ('state', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('partial', 'Done with problems'), ('failed', 'Failed'), ('cancelled', 'Cancelled'), ('ready', 'Ready to download')], db_index=True, default='queued', max_length=16)),
                ('cancel_requested', models.BooleanField(default=False)),
                ('error', models.TextField(blank=True)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('worker', models.CharField(blank=True, max_length=200)),
                ('files_total', models.PositiveIntegerField(default=0)),
                ('files_done', models.PositiveIntegerField(default=0)),
                ('bytes_total', models.BigIntegerField(default=0)),
                ('bytes_done', models.BigIntegerField(default=0)),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('enqueued_at', models.DateTimeField(null=True)),
                ('started_at', models.DateTimeField(null=True)),
                ('heartbeat_at', models.DateTimeField(null=True)),
                ('finished_at', models.DateTimeField(null=True)),
                ('request_id', models.CharField(blank=True, max_length=64)),
                ('source_ip', models.GenericIPAddressField(blank=True, null=True)),
                ('owner', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('requested_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at'],
            },
        ),
        migrations.CreateModel(
            name='RestoreItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.PositiveIntegerField()),
                ('kind', models.CharField(choices=[('file', 'File'), ('folder', 'Folder')], max_length=8)),
                ('origin', models.CharField(max_length=100)),
                ('reason', models.CharField(blank=True, max_length=500)),
                ('root', models.CharField(max_length=64)),
                ('path', models.TextField()),
                ('at', models.CharField(max_length=32)),
                ('size', models.BigIntegerField(default=0)),
                ('source_last_write', models.DateTimeField(null=True)),
                ('source_created', models.DateTimeField(null=True)),
                ('target_root', models.CharField(blank=True, max_length=64)),
                ('target_path', models.TextField(blank=True)),
                ('keep_path', models.TextField(blank=True)),
                ('temp_path', models.TextField(blank=True)),
                ('phase', models.CharField(choices=[('pending', 'Pending'), ('copied', 'Copied to a temporary name and verified'), ('kept', 'Current copy kept'), ('done', 'Restored and verified'), ('skipped', 'Skipped'), ('failed', 'Failed')], default='pending', max_length=16)),
                ('note', models.TextField(blank=True)),
                ('bytes_done', models.BigIntegerField(default=0)),
                ('sha256_source', models.CharField(blank=True, max_length=64)),
                ('sha256_target', models.CharField(blank=True, max_length=64)),
                ('streams', models.JSONField(default=list)),
                ('finished_at', models.DateTimeField(null=True)),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='restore.restorejob')),
            ],
            options={
                'ordering': ['job', 'seq'],
            },
        ),
        migrations.AddIndex(
            model_name='restorejob',
            index=models.Index(fields=['owner', 'state'], name='restore_res_owner_i_19eddf_idx'),
        ),
        migrations.AddIndex(
            model_name='restorejob',
            index=models.Index(fields=['state', 'heartbeat_at'], name='restore_res_state_eb3256_idx'),
        ),
        migrations.AddConstraint(
            model_name='restoreitem',
            constraint=models.UniqueConstraint(fields=('job', 'seq'), name='restore_item_seq'),
        ),
    ]
