from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("m365", "0006_binding_remote_created_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="directory",
            name="unreachable_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="directory",
            name="unreachable_reason",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="directory",
            name="last_sync_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
