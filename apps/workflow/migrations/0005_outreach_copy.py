"""Copy the referral and intake outreach attempts into the one outreach table (and back when
reversed), before migrations of those apps delete their own tables."""

from django.db import migrations

BATCH = 2000
# (app label, model, foreign key to the item, workflow name)
SOURCES = [("referrals", "OutreachAttempt", "referral", "referral"), ("intake", "IntakeOutreach", "intake", "intake")]
FIELDS = ("channel", "outcome", "note", "by_id", "at")


def copy_forward(apps, schema_editor):
    Outreach = apps.get_model("workflow", "Outreach")
    for app_label, model_name, item_field, workflow in SOURCES:
        Old = apps.get_model(app_label, model_name)
        rows = Old.objects.order_by("pk").values_list(f"{item_field}_id", f"{item_field}__site_id", *FIELDS)
        batch = []
        for item_id, site_id, *values in rows.iterator(chunk_size=BATCH):
            batch.append(
                Outreach(workflow=workflow, item_id=item_id, site_id=site_id, **dict(zip(FIELDS, values, strict=True)))
            )
            if len(batch) >= BATCH:
                Outreach.objects.bulk_create(batch)
                batch = []
        Outreach.objects.bulk_create(batch)


def copy_back(apps, schema_editor):
    Outreach = apps.get_model("workflow", "Outreach")
    for app_label, model_name, item_field, workflow in SOURCES:
        Old = apps.get_model(app_label, model_name)
        rows = Outreach.objects.filter(workflow=workflow).order_by("pk").values_list("item_id", *FIELDS)
        Old.objects.bulk_create(
            [
                Old(**{f"{item_field}_id": item_id}, **dict(zip(FIELDS, values, strict=True)))
                for item_id, *values in rows
            ],
            batch_size=BATCH,
        )
        Outreach.objects.filter(workflow=workflow).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workflow", "0004_outreach"),
        ("referrals", "0003_referral_ref_open_queue_priority_and_more"),
        ("intake", "0003_checklist_unique_on_sqlite"),
    ]

    operations = [migrations.RunPython(copy_forward, copy_back)]
