"""Who may see and change products."""

from __future__ import annotations

from service.auth.principal import Principal


def can_read(principal: Principal) -> bool:
    """Any authenticated caller, integrations included (a CRM picks a product key)."""
    return True


def can_manage(principal: Principal) -> bool:
    return principal.has_role("admin") or principal.is_operator
