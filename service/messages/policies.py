"""Who may see and change messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from service.auth.principal import Principal
from service.messages.models import Message


def can_read(principal: Principal) -> bool:
    """Every person reads messages; integrations need a reading scope (a CRM, an intranet)."""
    return (
        principal.is_person
        or principal.is_operator
        or principal.has_scope("pitch:read")
        or principal.has_scope("briefs:read")
    )


def sees_drafts(principal: Principal) -> bool:
    """Editors write drafts, managers and admins review them; others see published copy only."""
    return principal.has_role("editor", "admin", "manager") or principal.is_operator


def can_see(principal: Principal, message: Message | Row[*tuple[Any, ...]]) -> bool:
    """`message`: a table row or a named read row."""
    return can_read(principal) and (message.status == "published" or sees_drafts(principal))


def can_write(principal: Principal) -> bool:
    return principal.has_role("editor", "admin") or principal.is_operator


def can_review(principal: Principal) -> bool:
    """Who approves messages or sends them back: as for briefs, managers too (four eyes aside)."""
    return principal.has_role("editor", "manager", "admin") or principal.is_operator


def wrote_this_version(principal: Principal, message: Message) -> bool:
    """Four eyes: neither the author nor the last editor of a message may publish it."""
    return principal.person_id is not None and principal.person_id in (
        message.author_id,
        message.last_editor_id,
    )


def can_lint(principal: Principal) -> bool:
    """The lint reads nothing stored: any authenticated caller may check a text."""
    return True
