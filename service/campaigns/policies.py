"""Who may run campaigns, see them, and see or grade what people answered."""

from __future__ import annotations

import uuid

from service.auth.principal import Principal, Role


def can_manage(principal: Principal) -> bool:
    """Editors and admins write and run campaigns."""
    return principal.has_role(Role.EDITOR, Role.ADMIN) or principal.is_operator


def sees_all_campaigns(principal: Principal) -> bool:
    """Editors, admins, managers and `campaigns:read` integrations see every campaign; employees
    see the campaigns they are (or were) in."""
    return (
        principal.has_role(Role.EDITOR, Role.ADMIN, Role.MANAGER)
        or principal.is_operator
        or principal.has_scope("campaigns:read")
    )


def readiness_scope(principal: Principal) -> tuple[bool, uuid.UUID | None]:
    """(allowed, department): editors, admins and `campaigns:read` see everyone; managers their
    own department only; employees and other integrations see no readiness."""
    if (
        principal.has_role(Role.EDITOR, Role.ADMIN)
        or principal.is_operator
        or principal.has_scope("campaigns:read")
    ):
        return True, None
    if principal.has_role(Role.MANAGER):
        return True, principal.department_id
    return False, None


def sees_everyones_answers(principal: Principal) -> bool:
    return principal.has_role(Role.EDITOR, Role.ADMIN) or principal.is_operator


def can_read_answers(
    principal: Principal,
    *,
    person_id: uuid.UUID,
    manager_id: uuid.UUID | None,
    department_id: uuid.UUID | None,
) -> bool:
    """A person's acknowledgements and checks: theirs, their manager's, their department's
    managers', editors' and admins'. Anyone else is told they do not exist."""
    if sees_everyones_answers(principal) or principal.person_id == person_id:
        return True
    if principal.person_id is not None and principal.person_id == manager_id:
        return True
    return (
        principal.has_role(Role.MANAGER)
        and department_id is not None
        and principal.department_id == department_id
    )


def can_grade(
    principal: Principal,
    *,
    person_id: uuid.UUID,
    manager_id: uuid.UUID | None,
    department_id: uuid.UUID | None,
) -> bool:
    """Editors, admins and the person's manager grade — their direct manager, or a manager of
    their department (orgs that keep no reporting lines); nobody grades their own check."""
    if principal.person_id == person_id:
        return False
    if sees_everyones_answers(principal):
        return True
    if principal.person_id is not None and principal.person_id == manager_id:
        return True
    return (
        principal.has_role(Role.MANAGER)
        and department_id is not None
        and principal.department_id == department_id
    )
