"""Directory groups (SCIM Groups from Okta group push and Entra group provisioning).

A group stands for a department (its displayName is a department key or name; the department
is created when there is none) or for a role (the operator's map, CUECARD_SCIM_ROLE_GROUPS).
Joining and leaving move people, in the same transaction as the membership change and the
campaign enrollments it re-decides:

- department groups: a person belongs to the department of the group most recently added to;
  leaving a group clears (or falls back from) their department only when it is that group's:
  to the most recently added remaining department group's, else none;
- role groups: a member has the highest role among their role groups; leaving the last one
  makes them an employee, but only when their role is still the one the groups gave (a role
  set since by other means is left alone).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.concurrency import check_if_match, etag
from service.db import conflict_on_duplicate, transactional, utcnow
from service.errors import Conflict, Invalid, NotFound, field_error
from service.groups import repository
from service.groups.models import DirectoryGroup, DirectoryGroupMember
from service.groups.schemas import GroupMemberRead, GroupRead, GroupWrite
from service.people import service as people_service

ROLE_PRIORITY = people_service.ROLE_PRIORITY


@dataclass(frozen=True)
class _Mapping:
    department_id: uuid.UUID | None
    role: str | None


def _highest(roles: list[str]) -> str | None:
    return min(roles, key=ROLE_PRIORITY.__getitem__) if roles else None


async def _mapping_for(
    session: AsyncSession, principal: Principal, display_name: str, role_groups: dict[str, str]
) -> _Mapping:
    role = role_groups.get(display_name.strip().lower())
    if role is not None:
        return _Mapping(department_id=None, role=role)
    department = await people_service.ensure_department(session, principal, display_name)
    return _Mapping(department_id=department.id, role=None)


async def _to_read(
    session: AsyncSession, principal: Principal, groups: list[DirectoryGroup]
) -> list[GroupRead]:
    members = await repository.members_of(session, [g.id for g in groups])
    people = await people_service.provisioned_people_by_ids(
        session, principal, {m.person_id for rows in members.values() for m in rows}
    )
    return [
        GroupRead(
            id=g.id,
            display_name=g.display_name,
            external_id=g.external_id,
            department_id=g.department_id,
            role=g.role,
            members=[
                GroupMemberRead(
                    person_id=m.person_id, display_name=people[m.person_id].display_name, added_at=m.added_at
                )
                for m in members[g.id]
                if m.person_id in people
            ],
            created_at=g.created_at,
            updated_at=g.updated_at,
            revision=g.revision,
        )
        for g in groups
    ]


async def _group(session: AsyncSession, group_id: uuid.UUID) -> DirectoryGroup:
    group = await repository.get_group(session, group_id)
    if group is None:
        raise NotFound("No such Group.")
    return group


async def _check_name_free(session: AsyncSession, display_name: str, group_id: uuid.UUID | None) -> None:
    other = await repository.group_named(session, display_name)
    if other is not None and other.id != group_id:
        raise Conflict(f"A Group named '{display_name}' already exists.")


async def _check_members(session: AsyncSession, principal: Principal, member_ids: list[uuid.UUID]) -> None:
    found = await people_service.provisioned_people_by_ids(session, principal, member_ids)
    missing = [str(m) for m in member_ids if m not in found]
    if missing:
        raise Invalid(
            f"No such User: {', '.join(missing[:5])}.", errors=[field_error("members", "no such User")]
        )


async def _joined(
    session: AsyncSession, principal: Principal, person_id: uuid.UUID, mapping: _Mapping
) -> None:
    """Re-decides a person who has just joined a group with this mapping."""
    if mapping.department_id is not None:
        await people_service.assign_from_groups(
            session, principal, person_id, department_id=mapping.department_id
        )
    if mapping.role is not None:
        roles = [g.role for g, _ in await repository.memberships_of(session, person_id) if g.role]
        # `roles` holds the group just joined: the fallback is never taken.
        await people_service.assign_from_groups(
            session, principal, person_id, role=_highest(roles) or "employee"
        )


async def _left(session: AsyncSession, principal: Principal, person_id: uuid.UUID, mapping: _Mapping) -> None:
    """Re-decides a person who has just left a group that had this mapping."""
    person = await people_service.get_provisioned_person(session, principal, person_id)
    remaining = await repository.memberships_of(session, person_id)
    if mapping.department_id is not None and person.department_id == mapping.department_id:
        departments = [g.department_id for g, _ in remaining if g.department_id is not None]
        await people_service.assign_from_groups(
            session, principal, person_id, department_id=departments[0] if departments else None
        )
    if mapping.role is not None:
        roles = [g.role for g, _ in remaining if g.role]
        if person.role == _highest([*roles, mapping.role]):  # the role is still the groups' one
            await people_service.assign_from_groups(
                session, principal, person_id, role=_highest(roles) or "employee"
            )


async def _set_members(
    session: AsyncSession,
    principal: Principal,
    group: DirectoryGroup,
    member_ids: list[uuid.UUID],
    *,
    old: _Mapping | None = None,
) -> bool:
    """Makes the group's members these people; `old` (a changed mapping) re-decides everyone."""
    target = list(dict.fromkeys(member_ids))
    await _check_members(session, principal, target)
    current = [m.person_id for m in (await repository.members_of(session, [group.id]))[group.id]]
    added = [p for p in target if p not in set(current)]
    removed = [p for p in current if p not in set(target)]
    mapping = _Mapping(group.department_id, group.role)
    await repository.remove_members(session, group.id, removed)
    now = utcnow()
    session.add_all(DirectoryGroupMember(group_id=group.id, person_id=p, added_at=now) for p in added)
    await session.flush()
    for person_id in removed:
        await _left(session, principal, person_id, old or mapping)
    if old is not None and old != mapping:
        for person_id in [p for p in current if p in set(target)]:
            await _left(session, principal, person_id, old)
            await _joined(session, principal, person_id, mapping)
    for person_id in added:
        await _joined(session, principal, person_id, mapping)
    return bool(added or removed or (old is not None and old != mapping))


async def _flush_group(session: AsyncSession, display_name: str) -> None:
    with conflict_on_duplicate(f"A Group named '{display_name}' already exists."):
        await session.flush()


@transactional
async def create_group(
    session: AsyncSession, principal: Principal, data: GroupWrite, *, role_groups: dict[str, str]
) -> GroupRead:
    """Creates a group (and its department when missing) and moves its members into it."""
    people_service.check_can_provision(principal)
    await _check_name_free(session, data.display_name, None)
    mapping = await _mapping_for(session, principal, data.display_name, role_groups)
    group = DirectoryGroup(
        display_name=data.display_name,
        external_id=data.external_id,
        department_id=mapping.department_id,
        role=mapping.role,
    )
    session.add(group)
    await _flush_group(session, data.display_name)
    await _set_members(session, principal, group, data.member_ids)
    return (await _to_read(session, principal, [group]))[0]


async def get_group(session: AsyncSession, principal: Principal, group_id: uuid.UUID) -> GroupRead:
    """Gets a group with its members."""
    people_service.check_can_provision(principal)
    return (await _to_read(session, principal, [await _group(session, group_id)]))[0]


async def list_groups(
    session: AsyncSession,
    principal: Principal,
    *,
    offset: int,
    limit: int,
    display_name: str | None = None,
    external_id: str | None = None,
) -> tuple[int, list[GroupRead]]:
    """Lists groups by position, oldest first, with the total that match."""
    people_service.check_can_provision(principal)
    filters = {"display_name": display_name, "external_id": external_id}
    total = await repository.count_groups(session, **filters)
    if limit <= 0 or offset >= total:
        return total, []
    groups = await repository.groups_at(session, offset=offset, limit=limit, **filters)
    return total, await _to_read(session, principal, groups)


@transactional
async def update_group(
    session: AsyncSession,
    principal: Principal,
    group_id: uuid.UUID,
    data: GroupWrite,
    *,
    role_groups: dict[str, str],
    if_match: str | None,
) -> GroupRead:
    """Sets a group's name and members (PUT, or the state a PATCH leads to); a new name may
    map it elsewhere, which moves every member."""
    people_service.check_can_provision(principal)
    group = await _group(session, group_id)
    check_if_match(if_match, etag(group.revision), required=False)
    old = _Mapping(group.department_id, group.role)
    changed = data.external_id != group.external_id
    if data.display_name != group.display_name:
        await _check_name_free(session, data.display_name, group.id)
        mapping = await _mapping_for(session, principal, data.display_name, role_groups)
        group.display_name, group.department_id, group.role = (
            data.display_name,
            mapping.department_id,
            mapping.role,
        )
        changed = True
    group.external_id = data.external_id
    await _flush_group(session, data.display_name)
    changed = await _set_members(session, principal, group, data.member_ids, old=old) or changed
    if changed:
        group.revision += 1
        group.updated_at = utcnow()
        session.add(group)
    return (await _to_read(session, principal, [group]))[0]


@transactional
async def delete_group(
    session: AsyncSession, principal: Principal, group_id: uuid.UUID, *, if_match: str | None
) -> None:
    """Deletes a group: its members leave it (their department and role re-decided); the
    department itself stays."""
    people_service.check_can_provision(principal)
    group = await _group(session, group_id)
    check_if_match(if_match, etag(group.revision), required=False)
    await _set_members(session, principal, group, [])
    await repository.delete_group(session, group)


@transactional
async def delete_user(
    session: AsyncSession, principal: Principal, person_id: uuid.UUID, *, if_match: str | None
) -> None:
    """Deletes a person's SCIM identity (RFC 7644 §3.6): out of every group, inactive, gone
    for SCIM; their department, role and history stay in CueCard."""
    people_service.check_can_provision(principal)
    await people_service.deprovision_person(session, principal, person_id, if_match=if_match)
    await repository.forget_person(session, person_id)
