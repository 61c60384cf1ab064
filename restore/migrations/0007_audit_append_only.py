"""The audit trail is append-only in the database itself, not only in the ORM.

On PostgreSQL a trigger refuses every UPDATE and DELETE of ``restore_auditevent`` rows, so a
person with the portal's database credentials (or a bug) cannot rewrite or drop records without
first dropping the trigger, which needs the table owner's rights and is itself visible. The one
UPDATE let through is the foreign-key ``ON DELETE SET NULL`` of a removed Django user: it only
clears ``actor_id``/``acting_for_id``; the frozen names and SIDs, which the hash covers, stay.
TRUNCATE (used by the test runner to reset the database) is not a row operation; the chain's
anchor (``verify_audit --anchor``) detects a truncated or shortened trail.
SQLite has no such trigger language for this check; the ORM guards stay the only guard there.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION restore_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (to_jsonb(NEW) - 'actor_id' - 'acting_for_id') = (to_jsonb(OLD) - 'actor_id' - 'acting_for_id')
       AND (NEW.actor_id IS NULL OR NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id)
       AND (NEW.acting_for_id IS NULL OR NEW.acting_for_id IS NOT DISTINCT FROM OLD.acting_for_id) THEN
        RETURN NEW;  -- a removed user's foreign key set to NULL; the hashed columns are unchanged
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused on restore_auditevent)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS restore_auditevent_append_only ON restore_auditevent;
CREATE TRIGGER restore_auditevent_append_only
    BEFORE UPDATE OR DELETE ON restore_auditevent
    FOR EACH ROW EXECUTE FUNCTION restore_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS restore_auditevent_append_only ON restore_auditevent;
DROP FUNCTION IF EXISTS restore_auditevent_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("restore", "0006_helpdesk")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
