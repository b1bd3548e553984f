"""The SCIM resources CueCard serves (User, Group), and the discovery documents built from it.

Requests are read with scim2-models' full `User` (plus the enterprise and CueCard extensions),
so an identity provider may send any standard attribute; the ones CueCard does not keep are
accepted and ignored. What /Schemas publishes is generated from the same models and then
narrowed to the attributes CueCard stores and returns (RFC 7643 §7: a service provider's
schema lists the attributes it supports), so a client reading /Schemas knows what round-trips.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import Field
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    EnterpriseUser,
    Extension,
    Filter,
    Group,
    Mutability,
    Patch,
    Required,
    ResourceType,
    Returned,
    Schema,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_models import ETag as ETagConfig

from service.auth.principal import HUMAN_ROLES

CUECARD_SCHEMA = "urn:cuecard:params:scim:schemas:extension:2.0:User"
MAX_RESULTS = 200


class CueCardUser(Extension):
    """CueCard's own attributes of a person: when they start (onboarding campaigns count from
    it) and their role in CueCard."""

    __schema__ = URN(CUECARD_SCHEMA)

    hire_date: date | None = None
    """The first working day, as an ISO 8601 date (YYYY-MM-DD); onboarding campaigns count
    their steps from it."""

    role: Annotated[str | None, Field(examples=list(HUMAN_ROLES))] = None
    """The person's role in CueCard: admin, editor, manager or employee."""


ScimUser = User[EnterpriseUser | CueCardUser]

# Identity providers depart from RFC 7644 in known ways; these are the tolerances they need:
# Microsoft Entra sends `remove` with a value and `emails[type eq "work"].value` for an entry
# that does not exist yet; non-standard attributes (custom IdP mappings) are dropped.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETagConfig(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="OAuth Bearer Token",
            description="A long-lived API token of a client with scope people:write (cuecard "
            "clients create --api-token, or POST /api/v1/clients/{id}/api-tokens), a client-"
            "credentials token (POST /api/v1/auth/token) with that scope, or an admin's token.",
            spec_uri="https://www.rfc-editor.org/rfc/rfc6750",
            primary=True,
        )
    ],
)

ScimGroup = Group


def _user_resource_type() -> ResourceType:
    # Every person has a role, so every User carries the CueCard extension.
    found = ResourceType.from_resource(ScimUser)
    extensions = [
        e.model_copy(update={"required": True}) if str(e.schema_) == CUECARD_SCHEMA else e
        for e in found.schema_extensions or []
    ]
    return found.model_copy(update={"schema_extensions": extensions})


PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, CueCardUser, Group],
    resource_types=[_user_resource_type(), ResourceType.from_resource(ScimGroup)],
    config=CONFIG,
    policy=POLICY,
)

# What CueCard keeps, per schema: attribute → the sub-attributes kept (None: a simple one).
SUPPORTED: dict[str, dict[str, set[str] | None]] = {
    str(User.__schema__): {
        "userName": None,
        "name": {"givenName", "familyName"},
        "displayName": None,
        "preferredLanguage": None,
        "locale": None,
        "active": None,
        "emails": {"value", "type"},
    },
    str(EnterpriseUser.__schema__): {
        "employeeNumber": None,
        "department": None,
        "manager": {"value", "$ref"},
    },
    CUECARD_SCHEMA: {"hireDate": None, "role": None},
    # A group is a department or a role; its members are Users (no nested groups).
    str(Group.__schema__): {"displayName": None, "members": {"value", "display", "$ref", "type"}},
}
# CueCard keeps one e-mail address, the work one (so `primary` says nothing and is left out).
_CANONICAL = {("emails", "type"): ["work"], ("members", "type"): ["User"]}
# A member's display name is the User's: read-only in a Group, returned when asked for.
_READ_ONLY_SUB = {("members", "display")}


# A User needs an e-mail address (RFC 7643 §7: the service provider says what it requires).
# A userName that is an address stands in for `emails`, but `emails` is the attribute for it.
_CORE_USER = str(User.__schema__)
_REQUIRED = {(_CORE_USER, "emails")}
_REQUIRED_SUB = {("emails", "value")}
# What every person always has: removing it leaves a value (the display name falls back to
# the e-mail's local part, the locale to `en`, the role to `employee`), so /Schemas says so
# (required: a request may leave it out and gets that default; it is never absent).
_ALWAYS_HELD = {
    (_CORE_USER, "displayName"),
    (_CORE_USER, "name"),
    (_CORE_USER, "preferredLanguage"),
    (_CORE_USER, "locale"),
    (_CORE_USER, "active"),
    (CUECARD_SCHEMA, "role"),
}
# Attributes with a format SCIM's `string` type does not say: their canonicalValues show it
# (BCP 47 language tags; ISO 8601 dates), so a client reading /Schemas can fill them in.
_FORMAT_EXAMPLES = {
    (_CORE_USER, "preferredLanguage"): ["en", "ja", "en-GB", "ja-JP"],
    (_CORE_USER, "locale"): ["en", "ja", "en-GB", "ja-JP"],
    (CUECARD_SCHEMA, "hireDate"): ["2026-04-01", "2026-10-01", "2027-04-01"],
}


def _sub_update(attribute: str, sub: str) -> dict[str, Any]:
    update: dict[str, Any] = {}
    if (attribute, sub) in _CANONICAL:
        update["canonical_values"] = _CANONICAL[(attribute, sub)]
    if (attribute, sub) in _REQUIRED_SUB:
        update["required"] = Required.true
    if (attribute, sub) in _READ_ONLY_SUB:
        update["mutability"] = Mutability.read_only
        update["returned"] = Returned.request
    return update


def _narrowed(schema: Schema, department_keys: list[str]) -> Schema:
    kept = SUPPORTED[str(schema.id)]
    attributes = []
    for attribute in schema.attributes or []:
        if attribute.name not in kept:
            continue
        sub_names = kept[attribute.name]
        update: dict[str, Any] = {}
        if sub_names is not None:
            update["sub_attributes"] = [
                sub.model_copy(update=_sub_update(attribute.name, sub.name))
                for sub in attribute.sub_attributes or []
                if sub.name in sub_names
            ]
        if (str(schema.id), attribute.name) in _REQUIRED | _ALWAYS_HELD:
            update["required"] = Required.true
        if (str(schema.id), attribute.name) in _FORMAT_EXAMPLES:
            update["canonical_values"] = _FORMAT_EXAMPLES[(str(schema.id), attribute.name)]
        if attribute.name == "department":
            # The departments that exist are the values `department` takes (by key, or by name).
            update["canonical_values"] = department_keys or None
        attributes.append(attribute.model_copy(update=update))
    return schema.model_copy(update={"attributes": attributes})


def published_schemas(department_keys: list[str]) -> list[Schema]:
    """The /Schemas documents: generated from the models, narrowed to what CueCard keeps."""
    return [_narrowed(schema, department_keys) for schema in PROVIDER.schemas]


def resource_types() -> list[ResourceType]:
    return list(PROVIDER.resource_types)
