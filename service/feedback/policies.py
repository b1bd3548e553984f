"""Who may file, see and move feedback items.

The hub (every item) is for the people who triage it — editors, managers, admins — and for
integrations holding `feedback:read`. An employee sees what they filed, and what an
integration filed naming them as the one who heard it (read-only: people never upsert onto an
integration's key). An integration holding only `feedback:write` is a pipe: it files, it does
not read.

Two key spaces keep people and integrations apart: integrations choose `external_id` (their
ticket or response id); a person never does, and the service gives their items an id under
PERSON_KEY_PREFIX, a prefix integrations may not send. So no person can pre-claim a ticket key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from service.auth.principal import Principal, Role
from service.feedback.models import FeedbackItem
from service.people import policies as people_policies

# Sources a person hears first-hand; support tickets, NPS and surveys arrive from integrations
# (a person filing "nps" would move the weekly NPS by hand).
PERSON_SOURCES = ("sales", "interview", "other")
# The service's own key space: every person-filed item's external_id starts with it.
PERSON_KEY_PREFIX = "cuecard:"


def can_ingest(principal: Principal) -> bool:
    """Any person files what they heard; integrations need `feedback:write`."""
    return principal.is_person or principal.is_operator or principal.has_scope("feedback:write")


def may_file_source(principal: Principal, source: str) -> bool:
    """People file what they heard first-hand; integrations (and the operator) any source."""
    return not principal.is_person or source in PERSON_SOURCES


def may_choose_external_id(principal: Principal) -> bool:
    """Only integrations (and the operator) bring their own keys; people get service-made ones."""
    return not principal.is_person


def is_reserved_key(external_id: str) -> bool:
    """Keys in the service's own space, refused from callers (case-insensitively)."""
    return external_id[: len(PERSON_KEY_PREFIX)].lower() == PERSON_KEY_PREFIX


def may_name_filer(principal: Principal) -> bool:
    """Who may file on behalf of a named employee (`filed_by_email`)."""
    return (
        principal.is_operator
        or principal.has_scope("feedback:write")
        or principal.has_role(Role.EDITOR, Role.ADMIN)
    )


def may_learn_who_exists(principal: Principal) -> bool:
    """Whether naming an unknown filer may be answered with an error: only for callers that
    read the people directory anyway. For a `feedback:write` pipe it would be an oracle telling
    which e-mails are employees, so an unknown e-mail files the item without a filer."""
    return people_policies.can_read_directory(principal)


def can_read(principal: Principal) -> bool:
    """Every person reads (their own items at least); integrations need `feedback:read`."""
    return principal.is_person or principal.is_operator or principal.has_scope("feedback:read")


def sees_hub(principal: Principal) -> bool:
    """Editors, managers and admins see every item; so do `feedback:read` integrations."""
    return (
        principal.has_role(Role.EDITOR, Role.MANAGER, Role.ADMIN)
        or principal.is_operator
        or principal.has_scope("feedback:read")
    )


def can_see(principal: Principal, item: FeedbackItem | Row[Any]) -> bool:
    """`item`: a table row or a named read row."""
    if sees_hub(principal):
        return True
    return principal.is_person and item.filed_by_id is not None and item.filed_by_id == principal.person_id


def can_triage(principal: Principal) -> bool:
    """Triage, theme, decide, implement, announce: editors, managers, admins."""
    return principal.has_role(Role.EDITOR, Role.MANAGER, Role.ADMIN) or principal.is_operator


def filer_client(principal: Principal) -> str | None:
    """What an item records as the integration that filed it: None for a person's own item.

    The operator (demo data, CLI imports) counts as an integration: it files on behalf of people.
    """
    if principal.is_service:
        return principal.client_id
    if principal.is_operator:
        return principal.subject[:64]
    return None
