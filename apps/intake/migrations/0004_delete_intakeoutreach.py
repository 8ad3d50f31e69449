from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0003_checklist_unique_on_sqlite"),
        ("workflow", "0005_outreach_copy"),  # the rows live in workflow.Outreach now
    ]

    operations = [migrations.DeleteModel(name="IntakeOutreach")]
