from django.apps import AppConfig


class RestoreConfig(AppConfig):
    name = "restore"
    verbose_name = "vdiprotect"

    def ready(self):
        from . import signals  # noqa: F401  (audit records for sign-in events)
        from . import helpdesk  # noqa: F401  (signing out ends acting-for)
        from .api import authentication  # noqa: F401  (OpenAPI security scheme)
