from django.core.management.base import BaseCommand, CommandError

from restore.audit import verify_chain


class Command(BaseCommand):
    help = "Check the audit trail's hash chain; report the first broken link (exit 1)."

    def handle(self, *args, **options):
        report = verify_chain()
        if not report.ok:
            where = f"record {report.first_broken_id}" if report.first_broken_id else "the end of the chain"
            raise CommandError(f"audit chain broken at {where}: {report.problem} ({report.checked} records intact before it)")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {report.checked} records"))
