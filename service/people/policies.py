"""Who may see and change people and departments."""

from __future__ import annotations

import uuid
from typing import Protocol

from service.auth.principal import Principal
from service.people.models import Person


def can_read_directory(principal: Principal) -> bool:
    """Every person reads basic fields; integrations need a people scope."""
    return principal.is_person or principal.is_operator or principal.has_scope("people:read")


def can_manage_people(principal: Principal) -> bool:
    return principal.has_role("admin") or principal.is_operator or principal.has_scope("people:write")


def can_manage_departments(principal: Principal) -> bool:
    return principal.has_role("admin") or principal.is_operator


def can_look_up_by_email(principal: Principal) -> bool:
    """Resolving e-mails to people: directory readers, and feedback integrations naming who heard it."""
    return can_read_directory(principal) or principal.has_scope("feedback:write")


class _Someone(Protocol):
    id: uuid.UUID


def sees_private_fields(principal: Principal, person: Person | _Someone) -> bool:
    """A person as a table row or a read row (anything with their id)."""
    return can_manage_people(principal) or principal.person_id == person.id
