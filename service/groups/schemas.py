"""Inputs and outputs for directory groups."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from service.auth.principal import Role
from service.fields import InputModel, ReadModel


class GroupWrite(InputModel):
    """A group as a provisioning client sends it (POST, PUT, or the state a PATCH leads to)."""

    display_name: str = Field(min_length=1, max_length=255)
    external_id: str | None = Field(default=None, min_length=1, max_length=255)
    member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10_000)


class GroupMemberRead(ReadModel):
    person_id: uuid.UUID
    display_name: str
    added_at: datetime


class GroupRead(ReadModel):
    id: uuid.UUID
    display_name: str
    external_id: str | None
    department_id: uuid.UUID | None
    role: Role | None
    members: list[GroupMemberRead]
    created_at: datetime
    updated_at: datetime
    revision: int  # of this row; the ETag is derived from it
