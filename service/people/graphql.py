"""GraphQL types, queries and mutations for people and departments."""

from __future__ import annotations

import strawberry

from service import graphql_kit as gql
from service.people import service as people_service
from service.people.schemas import DepartmentCreate, DepartmentRead, PersonCreate, PersonRead, PersonUpdate

_PERSON_KEYS = {"department_id", "department_key", "manager_id", "external_id", "updated_at"}
DepartmentType = gql.view_type(
    DepartmentRead, "Department", exclude={"updated_at"}, by_id=people_service.departments_by_ids
)


@gql.view(PersonRead, name="Person", exclude=_PERSON_KEYS, by_id=people_service.people_by_ids)
class PersonType:
    department: DepartmentType | None = gql.loaded("department_id")
    manager: PersonType | None = gql.loaded("manager_id")


DepartmentInput = gql.input_type(DepartmentCreate, "DepartmentInput")
PersonInput = gql.input_type(PersonCreate, "PersonInput", exclude={"external_id"})
PersonPatch = gql.input_type(PersonUpdate, "PersonPatch", exclude={"email", "external_id"}, patch=True)


@strawberry.type
class PeopleRoot:
    me = gql.query(people_service.get_me, "The caller's own person record.")
    person = gql.query(people_service.get_person)

    people = gql.query(
        people_service.list_people, department_key=str | None, active=bool | None, ahead="department manager"
    )
    departments = gql.query(people_service.list_departments)
    create_department = gql.mutation(people_service.create_department)
    create_person = gql.mutation(people_service.create_person)
    update_person = gql.mutation(
        people_service.update_person, "Change a person; pass `ifMatch` (the ETag) to refuse stale writes."
    )
