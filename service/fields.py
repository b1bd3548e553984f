"""Validated field types shared by every domain's input schemas."""

from __future__ import annotations

import re
import types
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

# URL-safe slug: lower-case ASCII words joined by hyphens (a product or department key).
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=64)]
# BCP 47 language tag, e.g. "en", "ja", "en-GB", "zh-Hant-TW".
Locale = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$", max_length=35)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def refuse_numbers_as_time(value: Any) -> Any:
    """Dates and times are RFC 3339 strings, as published: pydantic would also read a number
    (or a numeric string) as Unix seconds, which the contract does not offer."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise PydanticCustomError(
            "datetime_from_number", "Expected an RFC 3339 date or date-time string, not a number"
        )
    return value


# A date-time query parameter (RFC 3339 only).
Timestamp = Annotated[datetime, BeforeValidator(refuse_numbers_as_time)]


def _takes_time(annotation: Any) -> bool:
    if annotation in (datetime, date):
        return True
    return any(_takes_time(arg) for arg in get_args(annotation))


def _max_length(metadata: Any) -> int | None:
    if isinstance(metadata, StringConstraints | annotated_types.MaxLen):
        return metadata.max_length
    return None


def _raw_limits(annotation: Any) -> tuple[int | None, int | None]:
    """(limit of the string itself, limit of each string in a list) declared by an annotation."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        if base is str:
            limits = [m for m in map(_max_length, metadata) if m is not None]
            return (min(limits) if limits else None), None
        return _raw_limits(base)
    if origin in (Union, types.UnionType):
        found = [_raw_limits(arg) for arg in get_args(annotation)]
        return next((f for f in found if f != (None, None)), (None, None))
    if origin is list:
        (item,) = get_args(annotation) or (Any,)
        return None, _raw_limits(item)[0]
    return None, None


@cache
def _field_checks(model: type[BaseModel]) -> dict[str, tuple[bool, int | None, int | None]]:
    """Per input key of `model`: (takes a date or time, limit of the string, limit of each
    string in a list) — worked out once per class."""
    checks = {}
    for name, field in model.model_fields.items():
        if _holds_input_model(field.annotation):
            continue  # a nested input model checks its own fields, with their full path
        annotation = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
        checks[field.alias or name] = (_takes_time(field.annotation), *_raw_limits(annotation))
    return checks


def _holds_input_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, InputModel):
        return True
    return any(_holds_input_model(arg) for arg in get_args(annotation))


NUL = "\x00"


def _nul_path(value: Any) -> tuple[int | str, ...] | None:
    """The location of a NUL character inside a value (() for the value itself), or None."""
    if isinstance(value, str):
        return () if NUL in value else None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            inner = _nul_path(item)
            if inner is not None:
                return (index, *inner)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and NUL in key:
                return (key.replace(NUL, "\\0"),)
            inner = _nul_path(item)
            if inner is not None:
                return (key, *inner)
    return None


def nul_position(value: Any) -> str | None:
    """Where a NUL character sits in a value as a dotted path ("" for the value itself, "2" or
    "a.1" inside a list or mapping), or None."""
    path = _nul_path(value)
    return None if path is None else ".".join(map(str, path))


def _as_sent_error(
    key: str, value: Any, checks: tuple[bool, int | None, int | None]
) -> InitErrorDetails | None:
    takes_time, own, item = checks
    if takes_time and (isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value))):
        return InitErrorDetails(
            type=PydanticCustomError(
                "datetime_from_number", "Expected an RFC 3339 date or date-time string, not a number"
            ),
            loc=(key,),
            input=value,
        )
    too_long = (own is not None and isinstance(value, str) and len(value) > own) or (
        item is not None
        and isinstance(value, list)
        and any(isinstance(v, str) and len(v) > item for v in value)
    )
    if too_long:
        return InitErrorDetails(
            type=PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": own if own is not None else item},
            ),
            loc=(key,),
            input=value,
        )
    where = _nul_path(value)
    if where is not None:
        # PostgreSQL text cannot hold U+0000 (the insert fails, as a 500); SQLite would keep it
        # and hand it to every reader. Refused here, every input model and door alike.
        return InitErrorDetails(
            type=PydanticCustomError("string_nul", "must not contain a NUL character"),
            loc=(key, *where),
            input=value,
        )
    return None


class InputModel(BaseModel):
    """Base of every XCreate / XUpdate: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _as_sent(cls, data: Any) -> Any:
        """What the caller sends is held to the published schema (found by the contract fuzzer)
        and to what the database can store: maxLength bounds the string as sent (stripping
        surrounding whitespace first must not let a longer one in), dates and times are
        strings, not Unix numbers, and no text holds a NUL. One pass over the input per model
        (not a validator call per field: a 10,000-item feedback batch pays it 10,000 times)."""
        if not isinstance(data, dict):
            return data
        checks = _field_checks(cls)
        errors = []
        for key, value in data.items():
            found = checks.get(key)
            if found is None:
                continue  # an unknown key: `extra="forbid"` names it
            # Fast path for the common case, a plain string within its limit.
            if (
                isinstance(value, str)
                and NUL not in value
                and not found[0]
                and (found[1] is None or len(value) <= found[1])
            ):
                continue
            if value is None or isinstance(value, bool):
                continue
            error = _as_sent_error(key, value, found)
            if error is not None:
                errors.append(error)
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return data


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
