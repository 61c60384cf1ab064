from django.core.management.base import BaseCommand, CommandError

from restore.audit import anchor
from restore.audit.verify import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chain and report the first broken link (exit 1). With --anchor, also "
        "check it against the chain heads anchored outside the database (AUDIT_ANCHOR_FILE or the SIEM's log), "
        "so removing the newest records is found. An intact chain's head is anchored again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--anchor", action="append", default=[], metavar="FILE",
                            help="an anchor file or syslog log holding vdiprotect's audit_anchor lines (repeatable)")

    def handle(self, *args, **options):
        held = []
        try:
            for path in options["anchor"]:
                held += anchor.read(path)
        except anchor.AnchorFileError as exc:
            raise CommandError(str(exc)) from None
        report = verify_chain(held)
        if not report.ok:
            where = f"record {report.first_broken_id}" if report.first_broken_id else "the end of the chain"
            raise CommandError(f"audit chain broken at {where}: {report.problem} ({report.checked} records intact "
                               "before it). Keep the database and the anchors as they are and investigate.")
        if report.last_id is not None:
            anchor.write(anchor.Anchor(report.checked, report.last_id, report.last_hash))
        against = f"; consistent with {report.anchors_checked} anchored head(s)" if held else ""
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {report.checked} records{against}"))
