"""Inputs and outputs for people and departments."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import EmailStr, Field, field_validator

from service.auth.principal import Role
from service.fields import InputModel, Locale, Name, ReadModel, Slug, Text

# The identifier an HR system or identity provider gives a person (SCIM `externalId`).
ExternalId = Annotated[str, Field(min_length=1, max_length=255)]


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
    role: Role = Role.EMPLOYEE
    department_key: Slug | None = None
    manager_id: uuid.UUID | None = None
    employee_number: str | None = None
    hire_date: date | None = None
    locale: Locale = "en"
    active: bool = True
    external_id: ExternalId | None = None


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
    # HR pushes (SCIM) rename people and carry the HR system's own id.
    email: EmailStr | None = None
    external_id: ExternalId | None = None

    @field_validator("email")
    @classmethod
    def _email_is_never_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("cannot be null")
        return value.lower()  # stored lower-cased, like on create


class PersonRead(ReadModel):
    """A person. `employee_number`, `hire_date`, `manager_id` and `external_id` are shown to
    admins, HR integrations and the person themself; other callers see them as null."""

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
    external_id: str | None = None
    created_at: datetime
    updated_at: datetime
    revision: int  # of this row; the ETag is derived from it


class ProvisionedPersonRead(PersonRead):
    """A person as a provisioning client (SCIM) sees them: with the identity provider's
    userName (their e-mail when the provider never sent another)."""

    user_name: str
