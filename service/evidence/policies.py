"""Who may see and change evidence."""

from __future__ import annotations

from service.auth.principal import Principal


def can_read(principal: Principal) -> bool:
    """Evidence backs published claims: every person and reading integration may see it."""
    return (
        principal.is_person or principal.is_operator or bool({"pitch:read", "briefs:read"} & principal.scopes)
    )


def can_write(principal: Principal) -> bool:
    return principal.has_role("editor", "admin") or principal.is_operator


def can_verify(principal: Principal, owner_id: object) -> bool:
    """Editors, admins, and the owner of the claim (who is accountable for it)."""
    return can_write(principal) or (principal.person_id is not None and principal.person_id == owner_id)
