"""An alert's site is required, and the alert list is indexed by site and time (after 0004's
data copy, in its own transaction: PostgreSQL cannot alter a table with pending trigger events)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notifications", "0005_alert_site")]

    operations = [
        migrations.AlterField(
            model_name="alert",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                help_text="The subject's site (a subject never moves), copied so that a site's "
                "alert list reads one index range whatever the number of other sites' alerts.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="alerts",
                to="screening.site",
            ),
        ),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["site", "-created_at"], name="alert_site_created_idx"),
        ),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["-created_at"], name="alert_created_idx"),
        ),
    ]
