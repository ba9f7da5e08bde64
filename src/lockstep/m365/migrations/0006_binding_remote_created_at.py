from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("m365", "0005_brake_window_kept_immutable_ids"),
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
