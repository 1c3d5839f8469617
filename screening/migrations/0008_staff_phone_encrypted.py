"""Staff phone numbers are encrypted at rest: copy each into phone_encrypted, drop the clear one."""

from django.db import migrations, models


def encrypt_phones(apps, schema_editor):
    from screening import crypto

    StaffProfile = apps.get_model("screening", "StaffProfile")
    for profile in StaffProfile.objects.exclude(phone="").only("pk", "phone").iterator():
        StaffProfile.objects.filter(pk=profile.pk).update(phone_encrypted=crypto.encrypt(profile.phone))


def decrypt_phones(apps, schema_editor):
    from screening import crypto

    StaffProfile = apps.get_model("screening", "StaffProfile")
    for profile in StaffProfile.objects.exclude(phone_encrypted="").iterator():
        StaffProfile.objects.filter(pk=profile.pk).update(
            phone=crypto.decrypt(profile.phone_encrypted)[:32]
        )


class Migration(migrations.Migration):
    dependencies = [("screening", "0007_staff_phone_e164")]

    operations = [
        migrations.AddField(
            model_name="staffprofile",
            name="phone_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(encrypt_phones, decrypt_phones),
        migrations.RemoveField(model_name="staffprofile", name="phone"),
    ]
