"""GraphQL types, queries and mutations for people and departments."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

import strawberry
from strawberry.types import Info

from service.api.graphql import Connection, Context, page_args, to_uuid, validate_input
from service.concurrency import etag
from service.people import service as people_service
from service.people.schemas import DepartmentCreate, DepartmentRead, PersonCreate, PersonRead, PersonUpdate


@strawberry.enum
class Role(Enum):
    ADMIN = "admin"
    EDITOR = "editor"
    MANAGER = "manager"
    EMPLOYEE = "employee"


@strawberry.type(name="Department")
class DepartmentType:
    id: strawberry.ID
    key: str
    name: str
    description: str | None
    created_at: dt.datetime
    etag: str = strawberry.field(description="The ETag: pass it as `ifMatch` to refuse stale writes.")

    @classmethod
    def from_model(cls, d: DepartmentRead) -> DepartmentType:
        return cls(
            id=strawberry.ID(str(d.id)),
            key=d.key,
            name=d.name,
            description=d.description,
            created_at=d.created_at,
            etag=etag(d.revision),
        )


@strawberry.type(name="Person")
class PersonType:
    id: strawberry.ID
    email: str
    display_name: str
    role: Role
    locale: str
    active: bool
    employee_number: str | None
    hire_date: dt.date | None
    created_at: dt.datetime
    etag: str = strawberry.field(description="The ETag: pass it as `ifMatch` to refuse stale writes.")
    department_id: strawberry.Private[uuid.UUID | None]
    manager_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def department(self, info: Info[Context, None]) -> DepartmentType | None:
        if self.department_id is None:
            return None
        found = await info.context.loaders.department.load(self.department_id)
        return DepartmentType.from_model(found) if found else None

    @strawberry.field
    async def manager(self, info: Info[Context, None]) -> PersonType | None:
        if self.manager_id is None:
            return None
        found = await info.context.loaders.person.load(self.manager_id)
        return PersonType.from_model(found) if found else None

    @classmethod
    def from_model(cls, p: PersonRead) -> PersonType:
        return cls(
            id=strawberry.ID(str(p.id)),
            email=p.email,
            display_name=p.display_name,
            role=Role(p.role),
            locale=p.locale,
            active=p.active,
            employee_number=p.employee_number,
            hire_date=p.hire_date,
            created_at=p.created_at,
            etag=etag(p.revision),
            department_id=p.department_id,
            manager_id=p.manager_id,
        )


@strawberry.input
class DepartmentInput:
    key: str
    name: str
    description: str | None = None


@strawberry.input
class PersonInput:
    email: str
    display_name: str
    role: Role = Role.EMPLOYEE
    department_key: str | None = None
    manager_id: strawberry.ID | None = None
    employee_number: str | None = None
    hire_date: dt.date | None = None
    locale: str = "en"
    active: bool = True


@strawberry.input
class PersonPatch:
    display_name: str | None = strawberry.UNSET
    role: Role | None = strawberry.UNSET
    department_key: str | None = strawberry.UNSET
    manager_id: strawberry.ID | None = strawberry.UNSET
    employee_number: str | None = strawberry.UNSET
    hire_date: dt.date | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.type
class PeopleQuery:
    @strawberry.field(description="The caller's own person record.")
    async def me(self, info: Info[Context, None]) -> PersonType:
        async with info.context.session() as session:
            return PersonType.from_model(await people_service.get_me(session, info.context.principal))

    @strawberry.field
    async def person(self, info: Info[Context, None], id: strawberry.ID) -> PersonType:
        async with info.context.session() as session:
            person = await people_service.get_person(session, info.context.principal, to_uuid(id))
        return PersonType.from_model(person)

    @strawberry.field
    async def people(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        department_key: str | None = None,
        active: bool | None = None,
    ) -> Connection[PersonType]:
        async with info.context.session() as session:
            page = await people_service.list_people(
                session,
                info.context.principal,
                page_args(first, after),
                department_key=department_key,
                active=active,
            )
        return Connection.from_page(page, PersonType.from_model)

    @strawberry.field
    async def departments(
        self, info: Info[Context, None], first: int = 50, after: str | None = None
    ) -> Connection[DepartmentType]:
        async with info.context.session() as session:
            page = await people_service.list_departments(
                session, info.context.principal, page_args(first, after)
            )
        return Connection.from_page(page, DepartmentType.from_model)


@strawberry.type
class PeopleMutation:
    @strawberry.mutation
    async def create_department(self, info: Info[Context, None], input: DepartmentInput) -> DepartmentType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(DepartmentCreate, input)
        async with info.context.session() as session:
            return DepartmentType.from_model(await people_service.create_department(session, principal, data))

    @strawberry.mutation
    async def create_person(self, info: Info[Context, None], input: PersonInput) -> PersonType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(PersonCreate, input)
        async with info.context.session() as session:
            return PersonType.from_model(await people_service.create_person(session, principal, data))

    @strawberry.mutation(description="Change a person; pass `ifMatch` (the ETag) to refuse stale writes.")
    async def update_person(
        self, info: Info[Context, None], id: strawberry.ID, input: PersonPatch, if_match: str | None = None
    ) -> PersonType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(PersonUpdate, input)
        async with info.context.session() as session:
            person = await people_service.update_person(
                session, principal, to_uuid(id), data, if_match=if_match
            )
        return PersonType.from_model(person)
