"""People and departments: the organisation CueCard speaks to."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field

from service.auth.principal import Role
from service.db import TableBase, UTCDateTime
from service.value_sets import one_of


class Department(TableBase, table=True):
    __tablename__ = "departments"

    key: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class Person(TableBase, table=True):
    __tablename__ = "people"
    __table_args__ = (sa.CheckConstraint(one_of("role", Role), name="role"),)

    # Stored lower-cased: e-mail is the join key with identity providers and HR systems.
    email: str = Field(max_length=320, unique=True)
    display_name: str = Field(max_length=200)
    role: str = Field(default="employee", max_length=16)
    department_id: uuid.UUID | None = Field(default=None, foreign_key="departments.id", index=True)
    manager_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    employee_number: str | None = Field(default=None, max_length=64)
    hire_date: date | None = None
    locale: str = Field(default="en", max_length=35)
    active: bool = Field(default=True)
    external_id: str | None = Field(default=None, max_length=255)
    # The identity provider's `sub`, bound on first OIDC sign-in: a later token with the same
    # e-mail but another subject is someone else (a reassigned or spoofed address).
    oidc_subject: str | None = Field(default=None, max_length=255, unique=True)
    # SCIM (service/scim): the identity provider's `userName` when it is not simply the e-mail
    # (null: the userName is the e-mail, as for people provisioned before userName was free),
    # and when the provider deleted the SCIM identity (the person stays, inactive, with history).
    scim_user_name: str | None = Field(default=None, max_length=255, unique=True)
    scim_deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
