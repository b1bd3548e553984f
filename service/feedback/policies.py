"""Who may file, see and move feedback items.

The hub (every item) is for the people who triage it — editors, managers, admins — and for
integrations holding `feedback:read`. An employee sees what they filed, nothing else. An
integration holding only `feedback:write` is a pipe: it files, it does not read.
"""

from __future__ import annotations

from service.auth.principal import Principal
from service.feedback.models import FeedbackItem


def can_ingest(principal: Principal) -> bool:
    """Any person files what they heard; integrations need `feedback:write`."""
    return principal.is_person or principal.is_operator or principal.has_scope("feedback:write")


def may_name_filer(principal: Principal) -> bool:
    """Who may file on behalf of a named employee (`filed_by_email`)."""
    return (
        principal.is_operator
        or principal.has_scope("feedback:write")
        or principal.has_role("editor", "admin")
    )


def can_read(principal: Principal) -> bool:
    """Every person reads (their own items at least); integrations need `feedback:read`."""
    return principal.is_person or principal.is_operator or principal.has_scope("feedback:read")


def sees_hub(principal: Principal) -> bool:
    """Editors, managers and admins see every item; so do `feedback:read` integrations."""
    return (
        principal.has_role("editor", "manager", "admin")
        or principal.is_operator
        or principal.has_scope("feedback:read")
    )


def can_see(principal: Principal, item: FeedbackItem) -> bool:
    if sees_hub(principal):
        return True
    return principal.is_person and item.filed_by_id is not None and item.filed_by_id == principal.person_id


def can_triage(principal: Principal) -> bool:
    """Triage, theme, decide, implement, announce: editors, managers, admins."""
    return principal.has_role("editor", "manager", "admin") or principal.is_operator


def may_resend(principal: Principal, filed_by_id: object) -> bool:
    """Whether re-sending an existing (source, external_id) may change that item.

    Integrations and the people who run the hub may; an employee only their own items.
    """
    if principal.is_operator or principal.has_scope("feedback:write") or can_triage(principal):
        return True
    return principal.is_person and filed_by_id is not None and filed_by_id == principal.person_id
