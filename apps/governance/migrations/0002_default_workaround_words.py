from django.db import migrations

DEFAULT_WORDS = ("fax", "spreadsheet", "email", "paper list")


def add_words(apps, schema_editor):
    word = apps.get_model("governance", "WorkaroundWord")
    for value in DEFAULT_WORDS:
        word.objects.get_or_create(word=value)


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_owners_friction_rollout_workarounds")]

    operations = [migrations.RunPython(add_words, migrations.RunPython.noop)]
