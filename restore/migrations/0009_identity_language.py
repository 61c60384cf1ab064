from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("restore", "0008_job_subject")]

    operations = [
        migrations.AddField(model_name="identity", name="language",
                            field=models.CharField(blank=True, max_length=16)),
        migrations.AddField(model_name="identity", name="language_chosen",
                            field=models.BooleanField(default=False)),
    ]
