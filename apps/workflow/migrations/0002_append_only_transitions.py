"""On PostgreSQL the transition log is append-only, like the audit tables (core.0002)."""

from django.db import migrations


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE TRIGGER workflow_transition_append_only BEFORE UPDATE OR DELETE ON workflow_transition "
            "FOR EACH ROW EXECUTE FUNCTION clinops_reject_audit_change()"
        )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS workflow_transition_append_only ON workflow_transition")


class Migration(migrations.Migration):
    dependencies = [("workflow", "0001_initial"), ("core", "0002_append_only_audit")]

    operations = [migrations.RunPython(install, uninstall)]
