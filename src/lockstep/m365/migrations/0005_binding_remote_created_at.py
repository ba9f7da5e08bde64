from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("m365", "0004_import_scan_total"),
    ]

    operations = [
        migrations.AddField(
            model_name="groupbinding",
            name="members_written_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="groupbinding",
            name="remote_created_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="userbinding",
            name="remote_created_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
