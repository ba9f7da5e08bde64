from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("m365", "0009_binding_password_expired_at")]

    operations = [
        migrations.AddField(
            model_name="directory",
            name="verification_started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
