"""Connects domains that react to each other's changes without importing each other.

Every entry point calls `connect_domains` before it serves anything (`create_app`, the CLI):
the list below is the whole of who listens to whom.
"""

from __future__ import annotations

from service.campaigns import enrollment
from service.people import hooks as people_hooks


def connect_domains() -> None:
    """Registers each domain's handlers for the others' changes (idempotent)."""
    # A new hire, a move or a leaver re-decides their campaigns in the same transaction.
    people_hooks.on_person_changed(enrollment.follow_person)
