"""On PostgreSQL, the change audit and the access log are append-only.

A trigger rejects UPDATE and DELETE on ``auditlog_logentry`` and ``core_accesslog``, so not
even the application's own database role can rewrite history. (SQLite, the embedded
default, has no such guard.) ``TRUNCATE`` is a table-owner operation; in production the
application's role does not own these tables (README.md, "Audit").
"""

from django.db import migrations

TABLES = ("auditlog_logentry", "core_accesslog")

# "%%" because schema_editor.execute() passes parameters, so psycopg reads "%" as a placeholder.
FUNCTION = """
CREATE OR REPLACE FUNCTION clinops_reject_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'clinops: %% is append-only; %% is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION clinops_reject_audit_change()"
        )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS clinops_reject_audit_change()")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
