import pytest


@pytest.fixture(autouse=True)
def _clear_cache_between_tests():
    """Cached lookups (role SIDs, snapshot lists) must not leak from one test into the next."""
    from django.core.cache import cache

    yield
    cache.clear()
