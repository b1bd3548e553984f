"""Value sets: one `StrEnum` per set feeds the schemas, the GraphQL enum and the CHECK constraint."""

from __future__ import annotations

from enum import StrEnum


def one_of(column: str, values: type[StrEnum], *, nullable: bool = False) -> str:
    """The CHECK constraint's text holding `column` to `values`, as the migrations wrote it."""
    check = f"{column} IN ({', '.join(repr(v.value) for v in values)})"
    return f"{column} IS NULL OR {check}" if nullable else check
