"""Connects domains that react to each other's changes without importing each other.

Every entry point calls `connect_domains` before it serves anything (`create_app`, the CLI):
the list below is the whole of who listens to whom.
"""

from __future__ import annotations

from typing import Any

from service.campaigns import enrollment
from service.config import Settings
from service.messages import lint
from service.people import hooks as people_hooks
from service.search import index as search_index


def connect_domains() -> None:
    """Registers each domain's handlers for the others' changes (idempotent)."""
    # A new hire, a move or a leaver re-decides their campaigns in the same transaction.
    people_hooks.on_person_changed(enrollment.follow_person)
    # Content written through the ORM is indexed for search in its own transaction.
    search_index.follow_content()


def session_info(settings: Settings, word_lists: lint.WordLists | None = None) -> dict[str, Any]:
    """What every session of an entry point carries (its sessionmaker's `info`): the settings,
    and the lint word lists the services that shape messages and briefs need. The app adds its
    caches; the CLI and in-process loaders need only these."""
    lists = word_lists if word_lists is not None else lint.WordLists.from_settings(settings)
    return {"settings": settings, **lint.session_info(lists)}
