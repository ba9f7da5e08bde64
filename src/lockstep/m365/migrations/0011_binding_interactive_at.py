from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("m365", "0010_directory_verification_started_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="userbinding",
            name="interactive_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="groupbinding",
            name="interactive_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
