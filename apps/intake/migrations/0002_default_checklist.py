"""The default checklist every appointment type gets at every site (supervisors add to it)."""

from django.db import migrations

DEFAULT_ITEMS = [
    ("demographics", "Demographics verified", 10),
    ("insurance", "Insurance eligibility checked", 20),
    ("consents", "Consents signed", 30),
    ("questionnaire", "Questionnaire completed", 40),
    ("medications", "Medication list reviewed", 50),
]


def add_defaults(apps, schema_editor):
    ChecklistItem = apps.get_model("intake", "ChecklistItem")
    for key, label, position in DEFAULT_ITEMS:
        ChecklistItem.objects.get_or_create(
            key=key, site=None, appointment_type="", defaults={"label": label, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
