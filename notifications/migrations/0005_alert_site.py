"""Copy the subject's site onto each alert (0005 makes it required and indexes it)."""

import django.db.models.deletion
from django.db import migrations, models


def copy_sites(apps, schema_editor):
    Alert = apps.get_model("notifications", "Alert")
    Subject = apps.get_model("screening", "Subject")
    Alert.objects.filter(site__isnull=True).update(
        site_id=models.Subquery(
            Subject.objects.filter(pk=models.OuterRef("subject_id")).values("site_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0004_export_job"),
        ("screening", "0009_sweep_partial_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                help_text="The subject's site (a subject never moves), copied so that a site's "
                "alert list reads one index range whatever the number of other sites' alerts.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="alerts",
                to="screening.site",
            ),
        ),
        migrations.RunPython(copy_sites, migrations.RunPython.noop),
    ]
