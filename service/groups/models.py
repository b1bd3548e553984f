"""Directory groups pushed by identity providers (SCIM Groups): each stands for a department
or a role, and its members are moved into it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from service.db import TableBase, UTCDateTime, utcnow


class DirectoryGroup(TableBase, table=True):
    __tablename__ = "scim_groups"

    # Unique ignoring case (checked by the service): Okta and Entra look groups up by name.
    display_name: str = Field(max_length=255, unique=True)
    external_id: str | None = Field(default=None, max_length=255)
    # Exactly one of the two: the department the group stands for, or the role it grants.
    department_id: uuid.UUID | None = Field(default=None, foreign_key="departments.id", index=True)
    role: str | None = Field(default=None, max_length=16)


class DirectoryGroupMember(SQLModel, table=True):
    __tablename__ = "scim_group_members"

    group_id: uuid.UUID = Field(foreign_key="scim_groups.id", primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="people.id", primary_key=True, index=True)
    # Orders a person's department groups: the most recently added one is their department.
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
