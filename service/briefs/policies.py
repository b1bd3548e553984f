"""Who may see, write, review and publish briefs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from service.auth.principal import Principal
from service.briefs.models import Brief

PUBLIC_STATUSES = ("published",)


def can_see_unpublished(principal: Principal) -> bool:
    return principal.has_role("editor", "manager", "admin") or principal.is_operator


def visible_statuses(principal: Principal) -> tuple[str, ...] | None:
    """Statuses this caller may see (None: all); employees and integrations see published only."""
    if can_see_unpublished(principal):
        return None
    if principal.is_person or principal.has_scope("briefs:read"):
        return PUBLIC_STATUSES
    return ()


def can_see(principal: Principal, brief: Brief | Row[*tuple[Any, ...]]) -> bool:
    """`brief`: a table row or a named read row."""
    statuses = visible_statuses(principal)
    return statuses is None or brief.status in statuses


def can_author(principal: Principal) -> bool:
    return principal.has_role("editor", "admin") or principal.is_operator


def can_review(principal: Principal) -> bool:
    return principal.has_role("editor", "manager", "admin") or principal.is_operator


def wrote_this_version(principal: Principal, brief: Brief) -> bool:
    """Four eyes: neither the author nor the last editor of a version may approve it."""
    return principal.person_id is not None and principal.person_id in (brief.author_id, brief.last_editor_id)
