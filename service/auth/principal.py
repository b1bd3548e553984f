"""Who is calling: a person (human role), a service account (scopes), or the operator CLI."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol, TypeGuard


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    MANAGER = "manager"
    EMPLOYEE = "employee"


HUMAN_ROLES = tuple(role.value for role in Role)
# A role as policies spell it ("admin"): the StrEnum's members compare equal to these.
RoleName = Literal["admin", "editor", "manager", "employee"]


def is_role(value: object) -> TypeGuard[RoleName]:
    return value in HUMAN_ROLES


def as_role(value: str) -> Role:
    """A stored role as a `Role`: the table's check constraint holds it to HUMAN_ROLES."""
    return Role(value)


class PersonRecord(Protocol):
    """What a person's principal is made of: the people row, or what the auth cache keeps of it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def role(self) -> str: ...
    @property
    def department_id(self) -> uuid.UUID | None: ...
    @property
    def email(self) -> str: ...


# Scopes a service account may hold. `people:write` implies `people:read`.
SCOPES = (
    "pitch:read",
    "briefs:read",
    "people:read",
    "people:write",
    "feedback:write",
    "feedback:read",
    "campaigns:read",
    "webhooks:manage",
)
# What each scope lets a service client do: the OAuth 2.0 scheme in the OpenAPI document
# lists them (a scope without an entry here is listed by its name alone).
SCOPE_DESCRIPTIONS = {
    "pitch:read": "Read current pitches, the messages and evidence they show; report pitch usage.",
    "briefs:read": "Read published briefs, their messages and evidence.",
    "people:read": "Read people and departments.",
    "people:write": "Provision people (REST and SCIM): create, change, deactivate. Implies people:read.",
    "feedback:write": "File customer feedback, one item or batches.",
    "feedback:read": "Read feedback items, themes and the weekly digest.",
    "campaigns:read": "Read campaigns, enrollments and readiness.",
    "webhooks:manage": (
        "Register and manage the client's own webhooks, subscribed to event types its other scopes may read."
    ),
}
_IMPLIED = {"people:write": ("people:read",)}


def expand_scopes(scopes: set[str] | frozenset[str]) -> frozenset[str]:
    expanded = set(scopes)
    for scope in scopes:
        expanded.update(_IMPLIED.get(scope, ()))
    return frozenset(expanded)


@dataclass(frozen=True)
class Principal:
    kind: Literal["person", "service", "operator"]
    subject: str
    role: Role | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    person_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    email: str | None = None
    client_id: str | None = None

    @property
    def is_person(self) -> bool:
        return self.kind == "person"

    @property
    def is_service(self) -> bool:
        return self.kind == "service"

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    def has_role(self, *roles: Role | RoleName) -> bool:
        return self.kind == "person" and self.role in roles

    def has_scope(self, scope: str) -> bool:
        return self.kind == "service" and scope in self.scopes

    @classmethod
    def for_service(cls, claims: dict[str, object]) -> Principal | None:
        """A service account's principal from its own-issuer token claims; None for people."""
        client_id = claims.get("client_id")
        if not isinstance(client_id, str):
            return None
        scope = claims.get("scope", "")
        return cls(
            kind="service",
            subject=f"client:{client_id}",
            client_id=client_id,
            scopes=expand_scopes(set(scope.split()) if isinstance(scope, str) else set()),
        )

    @classmethod
    def for_person(cls, person: PersonRecord) -> Principal:
        """The principal a token for this person resolves to."""
        return cls(
            kind="person",
            subject=f"person:{person.id}",
            role=as_role(person.role),
            person_id=person.id,
            department_id=person.department_id,
            email=person.email,
        )

    @classmethod
    def operator(cls, name: str = "cli") -> Principal:
        """The operator at a shell (`cuecard ...`): explicit, never a default."""
        return cls(kind="operator", subject=f"operator:{name}", role=Role.ADMIN)
