from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("directory", "0007_admin_recovery_codes")]

    operations = [
        migrations.AlterField(
            model_name="administrator",
            name="email",
            field=models.EmailField(max_length=254),
        ),
        migrations.AddConstraint(
            model_name="administrator",
            constraint=models.UniqueConstraint(
                fields=("organization", "email"), name="administrator_email_per_organization"
            ),
        ),
    ]
