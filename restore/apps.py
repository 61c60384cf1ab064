from django.apps import AppConfig


class RestoreConfig(AppConfig):
    name = "restore"
    verbose_name = "vdiprotect"

    def ready(self):
        from restore.api import authentication  # noqa: F401  (OpenAPI security scheme)
        from restore.audit import signals  # noqa: F401  (audit records for sign-in events)
        from restore.helpdesk import acting  # noqa: F401  (signing out ends acting-for)
