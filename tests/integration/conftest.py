"""Fixtures of the integration tests: the portal's service account over SMB, alice with a scratch area."""

import pytest


@pytest.fixture(autouse=True)
def _clear_cache_between_tests():
    """Cached lookups (role SIDs, snapshot lists) must not leak from one test into the next."""
    from django.core.cache import cache

    yield
    cache.clear()


@pytest.fixture
def svc(testenv):
    """The portal's service account over SMB (SMB_* settings from .testenv/env)."""
    from restore import smb

    return smb.client_for("127.0.0.1")


@pytest.fixture
def alice_in_area(alice, area):
    """alice signed in, with the requesting module's scratch ``area`` as her root "scratch"."""
    from tests.support.scratch import give_root

    give_root("alice", area)
    return alice


@pytest.fixture
def delegation(settings, testenv):
    """SMB_AUTH=kerberos-delegation for this test (tests/support/people.py), refusing what cannot be
    delegated (set ``SMB_DELEGATION_FALLBACK`` on it to change that); sessions and tickets forgotten after."""
    from tests.support.people import forget_sessions, use_delegation

    use_delegation(settings, testenv)
    yield settings
    forget_sessions()
