"""Loads the demo company through the same service functions the API uses."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.demo import data
from service.pagination import PageParams
from service.people import service as people_service
from service.people.schemas import DepartmentCreate, PersonCreate
from service.products import service as products_service
from service.products.schemas import ProductCreate


async def load(session: AsyncSession, principal: Principal, *, if_empty: bool) -> bool:
    """Loads the demo data; with `if_empty`, only into a database without people."""
    if if_empty:
        existing = await people_service.list_people(session, principal, PageParams(limit=1))
        if existing.items:
            return False
    for department in data.DEPARTMENTS:
        await people_service.create_department(session, principal, DepartmentCreate(**department))
    for product in data.PRODUCTS:
        await products_service.create_product(session, principal, ProductCreate(**product))
    managers: dict[str, object] = {}
    for email, name, role, department in data.PEOPLE:
        person = await people_service.create_person(
            session,
            principal,
            PersonCreate(
                email=email,
                display_name=name,
                role=role,
                department_key=department,
                manager_id=managers.get(department) if role != "manager" else None,
                locale="en" if name.isascii() else "ja",
            ),
        )
        if role == "manager" and department:
            managers[department] = person.id
    return True
