"""REST adapter for people, departments and /me."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import EmailStr

from service.api.idempotency import IdempotencyKey, idempotent
from service.api.rest import NOT_MODIFIED, PageDep, ReadSessionDep, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.concurrency import etag
from service.db import SessionDep
from service.pagination import Page
from service.people import service as people_service
from service.people.schemas import DepartmentCreate, DepartmentRead, PersonCreate, PersonRead, PersonUpdate

router = APIRouter(prefix="/api/v1")


@router.get("/departments", response_model=Page[DepartmentRead], tags=["departments"])
async def list_departments(
    request: Request, session: ReadSessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    """List departments."""
    return page_response(request, await people_service.list_departments(session, principal, page))


@router.post("/departments", status_code=201, response_model=DepartmentRead, tags=["departments"])
async def create_department(
    request: Request,
    body: DepartmentCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a department (admin)."""

    async def produce() -> Response:
        department = await people_service.create_department(session, principal, body)
        return resource_response(request, department, etag(department.revision), status_code=201)

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("/people", response_model=Page[PersonRead], tags=["people"])
async def list_people(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    department_key: Annotated[str | None, Query(max_length=64)] = None,
    email: Annotated[EmailStr | None, Query()] = None,
    active: bool | None = None,
) -> Response:
    """List people (basic fields; admins and HR integrations see all fields)."""
    result = await people_service.list_people(
        session, principal, page, department_key=department_key, email=email, active=active
    )
    return page_response(request, result)


@router.post("/people", status_code=201, response_model=PersonRead, tags=["people"])
async def create_person(
    request: Request,
    body: PersonCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a person (admin or `people:write`). Accepts `Idempotency-Key`."""

    async def produce() -> Response:
        person = await people_service.create_person(session, principal, body)
        return resource_response(
            request, person, etag(person.revision), status_code=201, location=f"/api/v1/people/{person.id}"
        )

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("/people/{person_id}", response_model=PersonRead, tags=["people"], responses=NOT_MODIFIED)
async def get_person(
    request: Request, person_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    """Get a person."""
    person = await people_service.get_person(session, principal, person_id)
    return resource_response(request, person, etag(person.revision))


@router.patch("/people/{person_id}", response_model=PersonRead, tags=["people"])
async def update_person(
    request: Request,
    person_id: uuid.UUID,
    body: PersonUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Change a person (admin or `people:write`); honours `If-Match`."""
    person = await people_service.update_person(session, principal, person_id, body, if_match=if_match)
    return resource_response(request, person, etag(person.revision))


@router.get("/me", response_model=PersonRead, tags=["people"], responses=NOT_MODIFIED)
async def get_me(request: Request, session: ReadSessionDep, principal: PrincipalDep) -> Response:
    """The caller's own person record."""
    person = await people_service.get_me(session, principal)
    return resource_response(request, person, etag(person.revision))
