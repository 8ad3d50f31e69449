from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0003_referral_ref_open_queue_priority_and_more"),
        ("workflow", "0005_outreach_copy"),  # the rows live in workflow.Outreach now
    ]

    operations = [migrations.DeleteModel(name="OutreachAttempt")]
