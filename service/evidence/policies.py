"""Who may see and change evidence.

Evidence backs claims; a claim is public only once something citing it is published. So an
item is visible to a caller through something that caller may see — a published brief or a
published message citing it — or because they own it (they answer for it), and to the people
who write and review drafts (editors, managers, admins). An item cited only by a draft or an
in-review brief does not exist for everyone else, as the brief itself does not.
"""

from __future__ import annotations

from service.auth.principal import Principal


def can_read(principal: Principal) -> bool:
    """Persons and reading integrations may read evidence (what is visible to them)."""
    return (
        principal.is_person or principal.is_operator or bool({"pitch:read", "briefs:read"} & principal.scopes)
    )


def sees_all(principal: Principal) -> bool:
    """Editors write drafts, managers and admins review them: they see unpublished evidence."""
    return principal.has_role("editor", "manager", "admin") or principal.is_operator


def can_write(principal: Principal) -> bool:
    return principal.has_role("editor", "admin") or principal.is_operator


def can_verify(principal: Principal, owner_id: object) -> bool:
    """Editors, admins, and the owner of the claim (who is accountable for it)."""
    return can_write(principal) or (principal.person_id is not None and principal.person_id == owner_id)
