"""Who may read the pitch and see how it is used."""

from __future__ import annotations

from service.auth.principal import Principal


def can_read(principal: Principal) -> bool:
    """Every person (it is published content) and integrations with pitch:read or briefs:read."""
    return (
        principal.is_person or principal.is_operator or bool({"pitch:read", "briefs:read"} & principal.scopes)
    )


def can_report_usage(principal: Principal) -> bool:
    return principal.is_person or principal.has_scope("pitch:read")


def can_see_usage(principal: Principal) -> bool:
    return principal.has_role("editor", "admin") or principal.is_operator
