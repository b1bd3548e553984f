"""Inputs and outputs for people and departments."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import EmailStr

from service.auth.principal import Role
from service.fields import InputModel, Locale, Name, ReadModel, Slug, Text


class DepartmentCreate(InputModel):
    key: Slug
    name: Name
    description: Text | None = None


class DepartmentRead(ReadModel):
    id: uuid.UUID
    key: str
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    revision: int  # of this row; the ETag is derived from it


class PersonCreate(InputModel):
    email: EmailStr
    display_name: Name
    role: Role = "employee"
    department_key: Slug | None = None
    manager_id: uuid.UUID | None = None
    employee_number: str | None = None
    hire_date: date | None = None
    locale: Locale = "en"
    active: bool = True


class PersonUpdate(InputModel):
    """Fields to change; absent fields stay as they are, `null` clears an optional one."""

    display_name: Name | None = None
    role: Role | None = None
    department_key: Slug | None = None
    manager_id: uuid.UUID | None = None
    employee_number: str | None = None
    hire_date: date | None = None
    locale: Locale | None = None
    active: bool | None = None


class PersonRead(ReadModel):
    """A person. `employee_number`, `hire_date` and `manager_id` are shown to admins and to
    the person themself; other callers see them as null."""

    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    department_id: uuid.UUID | None
    department_key: str | None
    locale: str
    active: bool
    manager_id: uuid.UUID | None = None
    employee_number: str | None = None
    hire_date: date | None = None
    created_at: datetime
    updated_at: datetime
    revision: int  # of this row; the ETag is derived from it
