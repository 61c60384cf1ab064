"""Fixtures of the audit tests."""

import socket

import pytest


@pytest.fixture
def udp_listener():
    """A UDP socket on a free local port, standing in for the SIEM."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()
