from django.apps import AppConfig


class RestoreConfig(AppConfig):
    name = "restore"
    verbose_name = "vdiprotect"

    def ready(self):
        from . import signals  # noqa: F401  (audit records for sign-in events)
        from .api import authentication  # noqa: F401  (OpenAPI security scheme)
