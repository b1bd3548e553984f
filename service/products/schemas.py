"""Inputs and outputs for products."""

from __future__ import annotations

import uuid
from datetime import datetime

from service.fields import InputModel, Name, ReadModel, Slug, Text


class ProductCreate(InputModel):
    key: Slug
    name: Name
    description: Text | None = None
    is_company: bool = False


class ProductRead(ReadModel):
    id: uuid.UUID
    key: str
    name: str
    description: str | None
    is_company: bool
    created_at: datetime
    updated_at: datetime
    revision: int  # of this row; the ETag is derived from it
