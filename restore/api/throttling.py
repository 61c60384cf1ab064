"""API throttling per person (per address for anonymous calls)."""

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class ApiRateThrottle(UserRateThrottle):
    """At API_THROTTLE_RATE, read when the request arrives (DRF's own class reads its rates once,
    at import, so a changed setting would not reach it); over the rate: 429 with Retry-After."""

    def get_rate(self):
        return settings.API_THROTTLE_RATE
