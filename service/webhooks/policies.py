"""Who may manage webhooks, and which ones."""

from __future__ import annotations

from service.auth.principal import Principal

MANAGE_SCOPE = "webhooks:manage"


def is_admin(principal: Principal) -> bool:
    return principal.has_role("admin") or principal.is_operator


def can_manage(principal: Principal) -> bool:
    """Admins, and service clients holding `webhooks:manage`; no other person or client."""
    return is_admin(principal) or principal.has_scope(MANAGE_SCOPE)


def can_see(principal: Principal, created_by: str) -> bool:
    """Admins see every webhook; a client only the ones it created."""
    return is_admin(principal) or (principal.has_scope(MANAGE_SCOPE) and created_by == principal.subject)
