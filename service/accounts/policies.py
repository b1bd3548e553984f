"""Who may see and change customer accounts.

Accounts carry what a customer is worth (annual revenue): they are read by whoever reads the
whole feedback hub — editors, managers, admins, and integrations holding `feedback:read` — and
kept by editors (product and marketing, who weigh the demand) and admins. Employees and other
integrations read none of them. Filing feedback may create an account as a side effect (an
unknown `customer.account` becomes one); that is ingest's rule, not a right to edit accounts.
"""

from __future__ import annotations

from service.auth.principal import Principal, Role


def can_read(principal: Principal) -> bool:
    return (
        principal.has_role(Role.EDITOR, Role.MANAGER, Role.ADMIN)
        or principal.is_operator
        or principal.has_scope("feedback:read")
    )


def can_manage(principal: Principal) -> bool:
    """Create, change and merge accounts."""
    return principal.has_role(Role.EDITOR, Role.ADMIN) or principal.is_operator
