"""A helpdesk member starts acting for someone, through the API as the helpdesk page does."""

from __future__ import annotations

import json

START = {"username": "alice", "ticket": "INC0012345", "reason": "alice deleted her notes by mistake"}


def act_for(client, **fields):
    """POST /api/v1/helpdesk/act-for with a valid ticket and reason, ``fields`` on top."""
    return client.post("/api/v1/helpdesk/act-for", json.dumps({**START, **fields}), content_type="application/json")


def acting_helpdesk1(helpdesk1, username="alice"):
    """helpdesk1's client, now acting for ``username`` (asserted)."""
    response = act_for(helpdesk1, username=username)
    assert response.status_code == 201, response.content
    return helpdesk1
