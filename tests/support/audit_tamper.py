"""What someone with the table owner's database rights can do to the trail: switch the append-only
trigger off (migration 0007) for this transaction and change rows directly."""

from django.db import connection


def bypass_append_only_trigger() -> None:
    """``ALTER TABLE ... DISABLE TRIGGER`` inside the test's transaction (rolled back with it)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign-key checks run first
        cursor.execute("ALTER TABLE restore_auditevent DISABLE TRIGGER restore_auditevent_append_only")
