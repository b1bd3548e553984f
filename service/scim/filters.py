"""The SCIM filters CueCard answers: what provisioning clients send to find a user.

Okta and Microsoft Entra look a user up with `userName eq "..."` before creating one; HR
systems use `externalId eq "..."`. One `eq` comparison on one of these attributes is
supported; anything else is refused with scimType invalidFilter (RFC 7644 §3.4.2.2).

The filter is read by a hand-written scanner that looks at each character once: a regular
expression with nested quantifiers here once took seconds on a 1,000-character filter and
held the event loop meanwhile. Filters longer than MAX_FILTER_LENGTH are refused unread, on
every path that takes one (GET ?filter= and the .search body).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from service.scim.errors import ScimProblem

# Far above `userName eq "<a 254-character address>"`; anything longer is not a lookup.
MAX_FILTER_LENGTH = 1000

_CORE = "urn:ietf:params:scim:schemas:core:2.0:user:"
_CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:group:"
_ATTRIBUTE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:._$-")
_WHITESPACE = " \t\r\n"
# Attribute (lower-cased, core schema URN removed) → the person field it filters on.
_ATTRIBUTES = {
    "username": "user_name",
    "emails.value": "email",
    "emails": "email",
    "externalid": "external_id",
}
_GROUP_ATTRIBUTES = {"displayname": "display_name", "externalid": "external_id"}
_UNSUPPORTED = 'Only one eq comparison is supported, e.g. userName eq "hanako@example.com".'


@dataclass(frozen=True)
class PersonFilter:
    user_name: str | None = None
    email: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class GroupFilter:
    display_name: str | None = None
    external_id: str | None = None


def _invalid(detail: str = _UNSUPPORTED) -> ScimProblem:
    return ScimProblem(detail, scim_type="invalidFilter")


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at


def _string_end(text: str, at: int) -> int:
    """Index just past the JSON string literal starting at `at` (a '"'); one pass."""
    at += 1
    while at < len(text):
        char = text[at]
        if char == "\\":
            at += 2
            continue
        if char == '"':
            return at + 1
        at += 1
    raise _invalid("The filter's value is not a closed string.")


def _comparison(text: str) -> tuple[str, str, str]:
    """(attribute, operator, JSON string literal) of `attr op "value"`, or invalidFilter."""
    at = _skip_space(text, 0)
    start = at
    while at < len(text) and text[at] in _ATTRIBUTE_CHARS:
        at += 1
    attribute = text[start:at]
    after = _skip_space(text, at)
    if not attribute or after == at:
        raise _invalid()
    at = after
    operator = text[at : at + 2]
    at += 2
    after = _skip_space(text, at)
    if len(operator) != 2 or not operator.isascii() or not operator.isalpha() or after == at:
        raise _invalid()
    at = after
    if at >= len(text) or text[at] != '"':
        raise _invalid()
    end = _string_end(text, at)
    if _skip_space(text, end) != len(text):
        raise _invalid()
    return attribute, operator, text[at:end]


def _lookup(
    text: str | None, prefix: str, attributes: dict[str, str], supported: str
) -> tuple[str, str] | None:
    """(field, value) of the one `eq` comparison a filter makes; None for no filter."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise _invalid("The filter must be a string.")
    if not text.strip():
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise _invalid(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    raw_attribute, operator, literal = _comparison(text)
    attribute = raw_attribute.lower().removeprefix(prefix)
    if operator.lower() != "eq" or attribute not in attributes:
        raise _invalid(f"Supported filters: {supported} (one comparison).")
    try:
        value = json.loads(literal)
    except ValueError as exc:
        raise _invalid("The filter's value is not a valid string.") from exc
    if not isinstance(value, str):
        raise _invalid("The filter's value is not a string.")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL: refuse it rather than fail the query
        raise _invalid("The filter's value contains a NUL character.")
    return attributes[attribute], value


def parse_filter(text: str | None) -> PersonFilter:
    """The User lookup a filter asks for; refuses the filters CueCard does not answer."""
    found = _lookup(text, _CORE, _ATTRIBUTES, "userName eq, externalId eq and emails.value eq")
    if found is None:
        return PersonFilter()
    field, value = found
    return PersonFilter(**{field: value.lower() if field == "email" else value})


def parse_group_filter(text: str | None) -> GroupFilter:
    """The Group lookup a filter asks for (Okta and Entra look groups up by displayName)."""
    found = _lookup(text, _CORE_GROUP, _GROUP_ATTRIBUTES, "displayName eq and externalId eq")
    if found is None:
        return GroupFilter()
    field, value = found
    return GroupFilter(**{field: value})
