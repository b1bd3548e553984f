"""Validated field types shared by every domain's input schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

# URL-safe slug: lower-case ASCII words joined by hyphens (a product or department key).
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=64)]
# BCP 47 language tag, e.g. "en", "ja", "en-GB", "zh-Hant-TW".
Locale = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$", max_length=35)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


NUL = "\x00"


def nul_position(value: Any) -> str | None:
    """Where a NUL character sits in a value ("" for the value itself, "2" or "a.1" inside
    a list or mapping), or None. Nested input models check themselves, with their own path."""
    if isinstance(value, str):
        return "" if NUL in value else None
    if isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            inner = nul_position(item)
            if inner is not None:
                return ".".join(filter(None, (str(index), inner)))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and NUL in key:
                return key.replace(NUL, "\\0")
            inner = nul_position(item)
            if inner is not None:
                return ".".join(filter(None, (str(key), inner)))
    return None


class InputModel(BaseModel):
    """Base of every XCreate / XUpdate: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold U+0000 (the insert fails, as a 500); SQLite would keep it
        # and hand it to every reader. Refused here, every input model and door alike.
        where = nul_position(value)
        if where is not None:
            suffix = f" (at {where})" if where else ""
            raise PydanticCustomError(
                "string_nul", "must not contain a NUL character{suffix}", {"suffix": suffix}
            )
        return value


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
