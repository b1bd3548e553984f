"""GraphQL types, queries and mutations for people and departments."""

from __future__ import annotations

import strawberry

from service.auth.principal import Role
from service.graphql_kit import (
    Connection,
    Info,
    etag_field,
    input_type,
    load,
    paged,
    parse,
    prime,
    run,
    to_uuid,
    view,
    wants,
)
from service.people import service as people_service
from service.people.schemas import DepartmentCreate, DepartmentRead, PersonCreate, PersonRead, PersonUpdate

Role = strawberry.enum(Role, name="Role")  # type: ignore[misc]  # registers the StrEnum in place and returns it
_PERSON_KEYS = {"department_id", "department_key", "manager_id", "external_id", "updated_at", "revision"}


@view(DepartmentRead, name="Department", exclude={"updated_at", "revision"})
class DepartmentType:
    etag: str = etag_field()


@view(PersonRead, name="Person", exclude=_PERSON_KEYS)
class PersonType:
    etag: str = etag_field()

    @strawberry.field
    def department(root: strawberry.Parent[PersonRead], info: Info) -> DepartmentType | None:
        return load(info, people_service.departments_by_ids, root.department_id)

    @strawberry.field
    def manager(root: strawberry.Parent[PersonRead], info: Info) -> PersonType | None:
        return load(info, people_service.people_by_ids, root.manager_id)


DepartmentInput = input_type(DepartmentCreate, "DepartmentInput")
PersonInput = input_type(PersonCreate, "PersonInput", exclude={"external_id"})
PersonPatch = input_type(PersonUpdate, "PersonPatch", exclude={"email", "external_id"}, patch=True)


@strawberry.type
class PeopleQuery:
    @strawberry.field(description="The caller's own person record.")
    async def me(self, info: Info) -> PersonType:
        return await run(info, people_service.get_me)

    @strawberry.field
    async def person(self, info: Info, id: strawberry.ID) -> PersonType:
        return await run(info, people_service.get_person, to_uuid(id))

    @strawberry.field
    async def people(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        department_key: str | None = None,
        active: bool | None = None,
    ) -> Connection[PersonType]:
        page = await paged(
            info, people_service.list_people, first, after, department_key=department_key, active=active
        )
        # One batch each for the page's departments and managers, so that their fields answer
        # without a task per person.
        people = [edge.node for edge in page.edges]
        if wants(info, "edges.node.department"):
            await prime(info, people_service.departments_by_ids, (p.department_id for p in people))
        if wants(info, "edges.node.manager"):
            await prime(info, people_service.people_by_ids, (p.manager_id for p in people))
        return page

    @strawberry.field
    async def departments(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[DepartmentType]:
        return await paged(info, people_service.list_departments, first, after)


@strawberry.type
class PeopleMutation:
    @strawberry.mutation
    async def create_department(self, info: Info, input: DepartmentInput) -> DepartmentType:
        return await run(info, people_service.create_department, parse(info, DepartmentCreate, input))

    @strawberry.mutation
    async def create_person(self, info: Info, input: PersonInput) -> PersonType:
        return await run(info, people_service.create_person, parse(info, PersonCreate, input))

    @strawberry.mutation(description="Change a person; pass `ifMatch` (the ETag) to refuse stale writes.")
    async def update_person(
        self,
        info: Info,
        id: strawberry.ID,
        input: PersonPatch,
        if_match: str | None = None,
    ) -> PersonType:
        data = parse(info, PersonUpdate, input)
        return await run(info, people_service.update_person, to_uuid(id), data, if_match=if_match)
