"""People and departments: the directory every other domain addresses."""

from __future__ import annotations

import enum
import re
import secrets
import uuid
from collections.abc import Iterable
from typing import Any, Final, Literal

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth import cache as auth_cache
from service.auth.cache import MISS, AuthCache, StoredPerson
from service.auth.principal import HUMAN_ROLES, Principal, Role, RoleName, is_role
from service.auth.tokens import VerifiedToken
from service.concurrency import check_if_match, etag
from service.config import Settings
from service.db import add_new, conflict_on_duplicate, transactional, use_case, utcnow
from service.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated, field_error
from service.events.catalogue import EventType
from service.events.service import emit
from service.pagination import Page, PageParams
from service.people import hooks, policies, repository
from service.people.models import Department, Person
from service.people.schemas import (
    DepartmentCreate,
    DepartmentRead,
    PersonCreate,
    PersonRead,
    PersonUpdate,
    ProvisionedPersonRead,
)
from service.reads import as_dict

ROLE_PRIORITY = {"admin": 0, "editor": 1, "manager": 2, "employee": 3}


class _Unchanged(enum.Enum):
    UNCHANGED = enum.auto()


UNCHANGED: Final = _Unchanged.UNCHANGED  # a keyword argument left as it is


# --- departments -----------------------------------------------------------------------


async def list_departments(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Page[DepartmentRead]:
    """Lists departments, oldest first."""
    page = await repository.list_departments(session, params)
    return Page(items=[DepartmentRead.model_validate(d) for d in page.rows], next_cursor=page.next_cursor)


@transactional
async def create_department(
    session: AsyncSession, principal: Principal, data: DepartmentCreate
) -> DepartmentRead:
    """Creates a department."""
    if not policies.can_manage_departments(principal):
        raise Forbidden("Only admins create departments.")
    if await repository.get_department_by_key(session, data.key):
        raise Conflict(f"A department with key '{data.key}' already exists.")
    department = Department(**data.model_dump())
    await add_new(session, department, f"A department with key '{data.key}' already exists.")
    return DepartmentRead.model_validate(department)


async def existing_department_keys(
    session: AsyncSession, principal: Principal, keys: Iterable[str]
) -> set[str]:
    """Which of these department keys exist (one query; for audiences named by key)."""
    return await repository.existing_department_keys(session, keys)


async def department_keys(session: AsyncSession, principal: Principal) -> list[str]:
    """Every department key, sorted (what an audience may name)."""
    return await repository.department_keys(session)


async def existing_person_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these person ids exist (one query; to refuse references to no one)."""
    return await repository.existing_person_ids(session, ids)


async def departments_by_ids(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> dict[uuid.UUID, DepartmentRead]:
    """Gets many departments at once (for DataLoaders)."""
    found = await repository.departments_by_ids(session, ids)
    return {key: DepartmentRead.model_validate(d) for key, d in found.items()}


# --- people ----------------------------------------------------------------------------


async def _save_person(session: AsyncSession, person: Person, conflict_message: str) -> None:
    """Write a person in the use case's transaction and tell the domains that follow people
    (hooks): a new hire or a move is enrolled (and a leaver lets go) exactly when the change
    lands, or not at all. An e-mail or identity taken meanwhile is a 409."""
    was_active = _was_active(person)
    session.add(person)
    with conflict_on_duplicate(conflict_message):
        await session.flush()
    await _follow(session, person)
    await _announce(session, person, was_active)


def _was_active(person: Person) -> bool | None:
    """Whether the person was active before the change being made to them (None: a new person)."""
    state = sa.inspect(person)
    if state.transient or state.pending:
        return None
    before = state.attrs.active.history.deleted
    return bool(before[0]) if before else person.active


async def _announce(session: AsyncSession, person: Person, was_active: bool | None) -> None:
    """Emits person.onboarded when a person becomes active (created, re-activated, re-provisioned)
    and person.left when an active person is deactivated; other changes emit nothing."""
    if person.active == bool(was_active):
        return
    department = await session.get(Department, person.department_id) if person.department_id else None
    common = {
        "person_id": person.id,
        "email": person.email,
        "department_id": person.department_id,
        "department_key": department.key if department is not None else None,
    }
    if person.active:
        emit(
            session,
            EventType.PERSON_ONBOARDED,
            common
            | {
                "display_name": person.display_name,
                "role": person.role,
                "manager_id": person.manager_id,
                "hire_date": person.hire_date,
            },
        )
    else:
        emit(session, EventType.PERSON_LEFT, common)


# What a caller who may not see a person's private fields gets for them (see PersonRead).
_HIDDEN_FIELDS = {"employee_number": None, "hire_date": None, "manager_id": None, "external_id": None}
_PEOPLE = TypeAdapter(list[PersonRead])


async def _to_read(session: AsyncSession, principal: Principal, people: list[Person]) -> list[PersonRead]:
    departments = await repository.departments_by_ids(
        session, {p.department_id for p in people if p.department_id}
    )
    result = []
    for person in people:
        data = person.model_dump()
        data["department_key"] = departments[person.department_id].key if person.department_id else None
        if not policies.sees_private_fields(principal, person):
            data.update(_HIDDEN_FIELDS)
        result.append(PersonRead.model_validate(data))
    return result


def _reads(principal: Principal, rows: Iterable[sa.Row[Any]]) -> list[PersonRead]:
    """People from the repository's read rows (columns and department key, one joined query):
    validated by pydantic-core in one call, no ORM objects in between."""
    items = []
    for row in rows:
        data = as_dict(row)
        if not policies.sees_private_fields(principal, row):
            data.update(_HIDDEN_FIELDS)
        items.append(data)
    return _PEOPLE.validate_python(items)


async def list_people(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    department_key: str | None = None,
    email: str | None = None,
    active: bool | None = None,
) -> Page[PersonRead]:
    """Lists people, oldest first, optionally by department, e-mail or active flag."""
    if not policies.can_read_directory(principal):
        raise Forbidden("This token may not read the people directory.")
    department_id = None
    if department_key is not None:
        department = await repository.get_department_by_key(session, department_key)
        if department is None:
            return Page(items=[], next_cursor=None)
        department_id = department.id
    page = await repository.list_people(
        session, params, department_id=department_id, email=email, active=active
    )
    return Page(items=_reads(principal, page.rows), next_cursor=page.next_cursor)


async def get_person(session: AsyncSession, principal: Principal, person_id: uuid.UUID) -> PersonRead:
    """Gets a person by id."""
    if not policies.can_read_directory(principal):
        raise Forbidden("This token may not read the people directory.")
    found = await repository.person_reads_by_ids(session, [person_id])
    if not found:
        raise NotFound("No such person.")
    return _reads(principal, found)[0]


async def people_by_ids(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> dict[uuid.UUID, PersonRead]:
    """Gets many people at once (for DataLoaders); empty for callers without directory access."""
    if not policies.can_read_directory(principal):
        return {}
    return {p.id: p for p in _reads(principal, await repository.person_reads_by_ids(session, ids))}


async def person_ids_by_emails(
    session: AsyncSession, principal: Principal, emails: Iterable[str]
) -> dict[str, uuid.UUID]:
    """Resolves e-mails to active people's ids (e.g. who heard a piece of feedback); one query."""
    if not policies.can_look_up_by_email(principal):
        raise Forbidden("This token may not look people up.")
    found = await repository.people_by_emails(session, {e.lower() for e in emails})
    return {p.email: p.id for p in found if p.active}


async def get_me(session: AsyncSession, principal: Principal) -> PersonRead:
    """Gets the calling person's own record."""
    if principal.person_id is None:
        raise Forbidden("Service accounts have no person record.")
    return await get_person(session, principal, principal.person_id)


async def _resolve_department(session: AsyncSession, key: str | None) -> uuid.UUID | None:
    if key is None:
        return None
    department = await repository.get_department_by_key(session, key)
    if department is None:
        raise Invalid(
            f"Unknown department '{key}'.", errors=[field_error("department_key", "no such department")]
        )
    return department.id


async def _check_manager(
    session: AsyncSession, manager_id: uuid.UUID | None, person_id: uuid.UUID | None
) -> None:
    if manager_id is None:
        return
    if manager_id == person_id:
        raise Invalid(
            "A person cannot manage themself.", errors=[field_error("manager_id", "cannot be self")]
        )
    if await repository.get_person(session, manager_id) is None:
        raise Invalid("Unknown manager.", errors=[field_error("manager_id", "no such person")])


@transactional
async def create_person(session: AsyncSession, principal: Principal, data: PersonCreate) -> PersonRead:
    """Creates a person (HR push or an admin)."""
    if not policies.can_manage_people(principal):
        raise Forbidden("Only admins and HR integrations create people.")
    email = data.email.lower()
    if await repository.get_person_by_email(session, email):
        raise Conflict(f"A person with e-mail {email} already exists.")
    department_id = await _resolve_department(session, data.department_key)
    await _check_manager(session, data.manager_id, None)
    person = Person(
        **data.model_dump(exclude={"department_key", "email"}), email=email, department_id=department_id
    )
    await _save_person(session, person, f"A person with e-mail {email} already exists.")
    return (await _to_read(session, principal, [person]))[0]


@transactional
async def update_person(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    data: PersonUpdate,
    *,
    if_match: str | None,
) -> PersonRead:
    """Changes a person's record; honours If-Match when given."""
    if not policies.can_manage_people(principal):
        if policies.can_read_directory(principal):
            raise Forbidden("Only admins and HR integrations change people.")
        raise NotFound("No such person.")
    person = await repository.get_person(session, person_id)
    if person is None:
        raise NotFound("No such person.")
    check_if_match(if_match, etag(person.revision), required=False)
    await _apply_update(session, person, data)
    await _save_person(session, person, "The change conflicts with another person's record.")
    return (await _to_read(session, principal, [person]))[0]


async def _apply_update(session: AsyncSession, person: Person, data: PersonUpdate) -> None:
    changes = data.model_dump(exclude_unset=True)
    if "department_key" in changes:
        person.department_id = await _resolve_department(session, changes.pop("department_key"))
    if "manager_id" in changes:
        await _check_manager(session, changes["manager_id"], person.id)
    for required in ("display_name", "role", "locale", "active"):
        if required in changes and changes[required] is None:
            raise Invalid(f"{required} cannot be null.", errors=[field_error(required, "cannot be null")])
    for name, value in changes.items():
        setattr(person, name, value)
    person.revision += 1
    person.updated_at = utcnow()


@transactional
async def ensure_person(
    session: AsyncSession,
    principal: Principal,
    *,
    email: str,
    role: Role | RoleName,
    department_key: str | None,
) -> PersonRead:
    """Creates the person if missing, else sets role (and department when given); keeps the rest."""
    if not principal.is_operator:
        raise Forbidden("Only the operator CLI ensures people.")
    person = await repository.get_person_by_email(session, email)
    if person is None:
        data = PersonCreate(
            email=email, display_name=email.split("@")[0], role=role, department_key=department_key
        )
        return await create_person(session, principal, data)
    update = {"role": role} | ({"department_key": department_key} if department_key else {})
    return await update_person(session, principal, person.id, PersonUpdate(**update), if_match=None)


# --- principals --------------------------------------------------------------------------


def _mapped_role(claims: dict[str, Any], settings: Settings) -> Role | RoleName:
    raw = claims.get(settings.oidc_role_claim)
    values = (
        [raw]
        if isinstance(raw, str)
        else [v for v in raw if isinstance(v, str)]
        if isinstance(raw, list)
        else []
    )
    roles = [role for v in values if is_role(role := settings.oidc_roles.get(v))]
    return min(roles, key=ROLE_PRIORITY.__getitem__) if roles else "employee"


async def principal_from_token(
    sessions: async_sessionmaker[AsyncSession],
    *,
    verified: VerifiedToken,
    settings: Settings,
    cache: AuthCache,
) -> Principal:
    """Turns a person's verified token into a principal acting with their stored record (role,
    department, active flag); opens a session only when the cache does not know them."""
    claims = verified.claims
    if verified.issuer == "oidc":
        return await _principal_from_idp(sessions, claims=claims, settings=settings, cache=cache)
    # Own tokens still carry a role (the contract), but the stored role decides: a demoted
    # editor's token acts as what they are now, not what they were when it was minted.
    if claims.get("role") not in HUMAN_ROLES:
        raise Unauthenticated("token has no valid role")
    try:
        person_id = uuid.UUID(claims["sub"])
    except ValueError as exc:
        raise Unauthenticated("token subject is not a person") from exc
    stored = cache.person(person_id)
    if stored is MISS:
        generation = cache.generation
        async with sessions() as session:
            person = await repository.get_person(session, person_id)
        stored = StoredPerson.of(person) if person is not None else None
        cache.put_person(person_id, stored, generation)
    return _acting(stored)


def _acting(stored: StoredPerson | object | None) -> Principal:
    if not isinstance(stored, StoredPerson) or not stored.active:
        raise Unauthenticated("unknown or deactivated person")
    return stored.principal()


def _email_verified(claims: dict[str, Any]) -> bool:
    # Absent: the provider does not say (many only issue verified addresses). Present: it must
    # be true (some providers send the string "true").
    return claims.get("email_verified", True) in (True, "true")


async def _principal_from_idp(
    sessions: async_sessionmaker[AsyncSession],
    *,
    claims: dict[str, Any],
    settings: Settings,
    cache: AuthCache,
) -> Principal:
    """An identity provider's token: the person with that verified e-mail, bound to the
    provider's `sub` on first sign-in (provisioned if new); the provider's mapped role, when
    the token carries the role claim, becomes the stored role."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise Unauthenticated("identity provider token has no e-mail claim")
    if not _email_verified(claims):
        raise Unauthenticated("the identity provider has not verified this e-mail")
    email = email.lower()
    subject = claims["sub"]
    role = _mapped_role(claims, settings) if settings.oidc_role_claim in claims else None
    stored = cache.person_by_email(email)
    if isinstance(stored, StoredPerson) and stored.oidc_subject == subject and role in (None, stored.role):
        return _acting(stored)  # the usual case: known, bound, nothing to record
    generation = cache.generation  # our own commit below bumps it: what we wrote is re-read next time
    async with sessions() as session:
        person = await repository.get_person_by_email(session, email)
        if person is None:  # first sign-in through the identity provider: provision, bound
            name = claims["name"] if isinstance(claims.get("name"), str) else email.split("@")[0]
            person = Person(
                email=email, display_name=name[:200], role=role or "employee", oidc_subject=subject
            )
            try:
                async with use_case(session):
                    await _save_person(session, person, "provisioned concurrently")
            except Conflict:
                # Provisioned meanwhile (then bound to this or another subject, checked below),
                # or this subject is already bound to a person under another e-mail.
                person = await repository.get_person_by_email(session, email)
                if person is None:
                    raise Unauthenticated("this identity is bound to another person") from None
        if not person.active:
            raise Unauthenticated("unknown or deactivated person")
        if person.oidc_subject is not None and person.oidc_subject != subject:
            # Same e-mail, another account at the provider: a reassigned or spoofed address.
            raise Unauthenticated("this e-mail is bound to another identity")
        if person.oidc_subject is None or role not in (None, person.role):
            person.oidc_subject = subject
            if role is not None and role != person.role:
                person.role = role
                person.revision += 1
                person.updated_at = utcnow()
            try:
                async with use_case(session):
                    await _save_person(session, person, "identity bound concurrently")
            except Conflict as exc:  # this subject is bound to another person meanwhile
                raise Unauthenticated("this identity is bound to another person") from exc
        stored = StoredPerson.of(person)
    cache.put_person(stored.id, stored, generation)
    return _acting(stored)


# --- SCIM support ------------------------------------------------------------------------
# The SCIM adapter (service/scim) provisions people through these and through create_person /
# update_person above, so the same policy decides and the same transaction enrolls.


def check_can_provision(principal: Principal) -> None:
    """Refuses callers that may not provision people (SCIM: HR systems, identity providers, admins)."""
    if not policies.can_manage_people(principal):
        raise Forbidden("Only admins and HR integrations (scope people:write) provision people.")


def _provisioned(read: PersonRead, person: Person) -> ProvisionedPersonRead:
    return ProvisionedPersonRead(**read.model_dump(), user_name=person.scim_user_name or person.email)


async def _scim_person(session: AsyncSession, person_id: uuid.UUID) -> Person:
    person = await repository.get_person(session, person_id)
    if person is None or person.scim_deleted_at is not None:  # deleted for SCIM: gone
        raise NotFound("No such User.")
    return person


async def _check_identity_free(
    session: AsyncSession, *, user_name: str | None, email: str | None, person_id: uuid.UUID | None
) -> None:
    """Refuses a userName or e-mail another person holds (deleted SCIM identities included:
    their history stays linked to them)."""
    if user_name is not None:
        for other in await repository.people_with_user_name(session, user_name):
            if other.id != person_id:
                raise Conflict(f"Another User has userName '{user_name}'.")
    if email is not None:
        holder = await repository.get_person_by_email(session, email)
        if holder is not None and holder.id != person_id:
            raise Conflict(f"Another User has e-mail {email.lower()}.")


async def get_provisioned_person(
    session: AsyncSession, principal: Principal, person_id: uuid.UUID
) -> ProvisionedPersonRead:
    """Gets a person's full record for a provisioning client (404 once deleted for SCIM)."""
    check_can_provision(principal)
    person = await _scim_person(session, person_id)
    return _provisioned((await _to_read(session, principal, [person]))[0], person)


async def provisioned_people_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ProvisionedPersonRead]:
    """Gets the SCIM-visible people among these ids (group members); one query."""
    check_can_provision(principal)
    found = [p for p in (await repository.people_by_ids(session, ids)).values() if p.scim_deleted_at is None]
    reads = await _to_read(session, principal, found)
    return {p.id: _provisioned(r, p) for p, r in zip(found, reads, strict=True)}


async def list_provisioned_people(
    session: AsyncSession,
    principal: Principal,
    *,
    offset: int,
    limit: int,
    user_name: str | None = None,
    email: str | None = None,
    external_id: str | None = None,
) -> tuple[int, list[ProvisionedPersonRead]]:
    """Lists SCIM-visible people by position, oldest first, with the total that match
    (deactivated ones included; deleted ones not)."""
    check_can_provision(principal)
    filters = {"user_name": user_name, "email": email, "external_id": external_id}
    total = await repository.count_people(session, **filters)
    if limit <= 0 or offset >= total:
        return total, []
    people = await repository.people_at(session, offset=offset, limit=limit, **filters)
    reads = await _to_read(session, principal, people)
    return total, [_provisioned(r, p) for p, r in zip(people, reads, strict=True)]


@transactional
async def provision_person(
    session: AsyncSession, principal: Principal, data: PersonCreate, *, user_name: str, relink: bool
) -> ProvisionedPersonRead:
    """Creates a person for a SCIM client, or (with `relink`) gives a person whose SCIM
    identity was deleted a fresh one: same row and history, the new attributes, active again."""
    check_can_provision(principal)
    email = data.email.lower()
    holders = {p.id: p for p in await repository.people_with_user_name(session, user_name)}
    if (by_email := await repository.get_person_by_email(session, email)) is not None:
        holders[by_email.id] = by_email
    if not holders:
        person = Person(
            **data.model_dump(exclude={"department_key", "email"}),
            email=email,
            scim_user_name=user_name,
            department_id=await _resolve_department(session, data.department_key),
        )
        await _check_manager(session, data.manager_id, None)
        await _save_person(session, person, f"A User with userName '{user_name}' or e-mail {email} exists.")
        return _provisioned((await _to_read(session, principal, [person]))[0], person)
    person = next(iter(holders.values()))
    if len(holders) > 1 or person.scim_deleted_at is None or not relink:
        raise Conflict(f"A User with userName '{user_name}' or e-mail {email} exists.")
    # Relink: every attribute as the POST sends it (what it leaves out takes its default).
    await _check_manager(session, data.manager_id, person.id)
    fields = data.model_dump()
    person.department_id = await _resolve_department(session, fields.pop("department_key"))
    for name, value in fields.items():
        setattr(person, name, value)
    person.email = email
    person.scim_user_name = user_name
    person.scim_deleted_at = None
    person.revision += 1
    person.updated_at = utcnow()
    await _save_person(session, person, f"A User with userName '{user_name}' or e-mail {email} exists.")
    return _provisioned((await _to_read(session, principal, [person]))[0], person)


@transactional
async def update_provisioned_person(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    data: PersonUpdate,
    *,
    user_name: str | None,
    if_match: str | None,
) -> ProvisionedPersonRead:
    """Changes a person for a SCIM client (PUT, PATCH); `user_name` None keeps the userName."""
    check_can_provision(principal)
    person = await _scim_person(session, person_id)
    check_if_match(if_match, etag(person.revision), required=False)
    new_name = (
        user_name if user_name is not None and user_name != (person.scim_user_name or person.email) else None
    )
    email = data.email if "email" in data.model_fields_set else None
    await _check_identity_free(session, user_name=new_name, email=email, person_id=person.id)
    if new_name is not None:
        person.scim_user_name = new_name
    await _apply_update(session, person, data)
    await _save_person(session, person, "The change conflicts with another User's userName or e-mail.")
    return _provisioned((await _to_read(session, principal, [person]))[0], person)


@transactional
async def deprovision_person(
    session: AsyncSession, principal: Principal, person_id: uuid.UUID, *, if_match: str | None
) -> None:
    """Deletes a person's SCIM identity: inactive, gone for SCIM, history kept."""
    check_can_provision(principal)
    person = await _scim_person(session, person_id)
    check_if_match(if_match, etag(person.revision), required=False)
    was_active = person.active
    person.active = False
    person.scim_deleted_at = utcnow()
    person.revision += 1
    person.updated_at = person.scim_deleted_at
    session.add(person)
    await session.flush()
    await _follow(session, person)
    await _announce(session, person, was_active)


@transactional
async def assign_from_groups(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    department_id: uuid.UUID | Literal[_Unchanged.UNCHANGED] | None = UNCHANGED,
    role: str | Literal[_Unchanged.UNCHANGED] = UNCHANGED,
) -> None:
    """Moves a person as their directory groups say (department, role); the domains following
    people (their campaigns) re-decide them in the same transaction."""
    check_can_provision(principal)
    person = await _scim_person(session, person_id)
    changed = False
    if department_id is not UNCHANGED and department_id != person.department_id:
        person.department_id = department_id
        changed = True
    if role is not UNCHANGED and role != person.role:
        person.role = role
        changed = True
    if changed:
        person.revision += 1
        person.updated_at = utcnow()
        session.add(person)
        await session.flush()
        await _follow(session, person)


async def _follow(session: AsyncSession, person: Person) -> None:
    """After a person's row is flushed: the domains that follow people react in this transaction,
    and every replica's cached principal for them (role, department, active flag, e-mail) is
    dropped when, and only if, it commits."""
    await hooks.person_changed(session, person.id)
    await auth_cache.person_changed(session, person.id)


@transactional
async def ensure_department(session: AsyncSession, principal: Principal, key_or_name: str) -> DepartmentRead:
    """The department a directory group names (by key, else by name ignoring case), created
    when there is none."""
    check_can_provision(principal)
    text = key_or_name.strip()
    department = await repository.get_department_by_key(session, text)
    if department is None:
        named = await repository.departments_named(session, text)
        department = named[0] if named else None
    if department is None:
        department = Department(key=await _free_department_key(session, text), name=text[:200])
        session.add(department)
        await session.flush()
    return DepartmentRead.model_validate(department)


async def _free_department_key(session: AsyncSession, name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48]
    # A name without ASCII letters or digits (営業二部) gets a random key; the name keeps it.
    key = base or f"group-{secrets.token_hex(3)}"
    base = base or "group"
    while await repository.get_department_by_key(session, key) is not None:
        key = f"{base}-{secrets.token_hex(3)}"
    return key


async def department_key_for(session: AsyncSession, principal: Principal, key_or_name: str) -> str:
    """Finds the department an HR system names, by key or else by name (ignoring case)."""
    check_can_provision(principal)
    department = await repository.get_department_by_key(session, key_or_name)
    if department is not None:
        return department.key
    named = await repository.departments_named(session, key_or_name.strip())
    if len(named) == 1:
        return named[0].key
    reason = "several departments have this name" if named else "no department has this key or name"
    raise Invalid(
        f"Unknown department '{key_or_name}': {reason}.",
        errors=[field_error("department", reason)],
    )
