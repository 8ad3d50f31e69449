"""Database guards for change control, beneath the services and the admin.

- A row (``terminology_conceptmapelement``) can be inserted or updated only while its version
  is a draft; on PostgreSQL it can be deleted only then too. (SQLite's test flush deletes rows
  with plain ``DELETE``, in no particular order, so SQLite does not guard deletes.)
- An active version can change only by being retired; a retired one cannot change at all.
  On PostgreSQL no version can be deleted.

Both raise an integrity error, so a mistake in code can never alter what is or was active.
"""

from django.db import migrations

SQLITE_INSTALL = [
    """CREATE TRIGGER terminology_element_draft_only_insert BEFORE INSERT ON terminology_conceptmapelement
    FOR EACH ROW WHEN (SELECT state FROM terminology_conceptmapversion WHERE id = NEW.version_id) IS NOT 'draft'
    BEGIN SELECT RAISE(ABORT, 'clinops: only the rows of a draft concept map version can change'); END""",
    """CREATE TRIGGER terminology_element_draft_only_update BEFORE UPDATE ON terminology_conceptmapelement
    FOR EACH ROW WHEN (SELECT state FROM terminology_conceptmapversion WHERE id = OLD.version_id) IS NOT 'draft'
        OR (SELECT state FROM terminology_conceptmapversion WHERE id = NEW.version_id) IS NOT 'draft'
    BEGIN SELECT RAISE(ABORT, 'clinops: only the rows of a draft concept map version can change'); END""",
    """CREATE TRIGGER terminology_version_frozen BEFORE UPDATE ON terminology_conceptmapversion
    FOR EACH ROW WHEN OLD.state = 'retired' OR (OLD.state = 'active' AND NEW.state IS NOT 'retired')
    BEGIN SELECT RAISE(ABORT, 'clinops: an active or retired concept map version cannot change'); END""",
]
SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS terminology_element_draft_only_insert",
    "DROP TRIGGER IF EXISTS terminology_element_draft_only_update",
    "DROP TRIGGER IF EXISTS terminology_version_frozen",
]

# "%%" because schema_editor.execute() passes parameters, so psycopg reads "%" as a placeholder.
POSTGRES_INSTALL = [
    """CREATE OR REPLACE FUNCTION terminology_element_guard() RETURNS trigger AS $$
DECLARE
    version_state text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT state INTO version_state FROM terminology_conceptmapversion WHERE id = OLD.version_id;
        IF version_state IS DISTINCT FROM 'draft' THEN
            RAISE EXCEPTION 'clinops: only the rows of a draft concept map version can change (version %% is %%)',
                OLD.version_id, version_state USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT state INTO version_state FROM terminology_conceptmapversion WHERE id = NEW.version_id;
        IF version_state IS DISTINCT FROM 'draft' THEN
            RAISE EXCEPTION 'clinops: only the rows of a draft concept map version can change (version %% is %%)',
                NEW.version_id, version_state USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql""",
    """CREATE TRIGGER terminology_element_draft_only BEFORE INSERT OR UPDATE OR DELETE ON terminology_conceptmapelement
    FOR EACH ROW EXECUTE FUNCTION terminology_element_guard()""",
    """CREATE OR REPLACE FUNCTION terminology_version_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'clinops: concept map versions are never deleted (version %%)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.state = 'retired' OR (OLD.state = 'active' AND NEW.state IS DISTINCT FROM 'retired') THEN
        RAISE EXCEPTION 'clinops: concept map version %% is %%; it cannot change', OLD.id, OLD.state
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql""",
    """CREATE TRIGGER terminology_version_frozen BEFORE UPDATE OR DELETE ON terminology_conceptmapversion
    FOR EACH ROW EXECUTE FUNCTION terminology_version_guard()""",
]
POSTGRES_UNINSTALL = [
    "DROP TRIGGER IF EXISTS terminology_element_draft_only ON terminology_conceptmapelement",
    "DROP TRIGGER IF EXISTS terminology_version_frozen ON terminology_conceptmapversion",
    "DROP FUNCTION IF EXISTS terminology_element_guard()",
    "DROP FUNCTION IF EXISTS terminology_version_guard()",
]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement)


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_INSTALL)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_INSTALL)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_UNINSTALL)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_UNINSTALL)


class Migration(migrations.Migration):
    dependencies = [("terminology", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
