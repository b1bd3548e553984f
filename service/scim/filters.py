"""The SCIM filters CueCard answers: what provisioning clients send to find a user.

Okta and Microsoft Entra look a user up with `userName eq "..."` before creating one; HR
systems use `externalId eq "..."`. One `eq` comparison on one of these attributes is
supported; anything else is refused with scimType invalidFilter (RFC 7644 §3.4.2.2).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from service.scim.errors import ScimProblem

_CORE = "urn:ietf:params:scim:schemas:core:2.0:user:"
_COMPARISON = re.compile(
    r'^\s*(?P<attr>[A-Za-z0-9:._$\-\[\]" ]+?)\s+(?P<op>[A-Za-z]{2})\s+(?P<value>"(?:[^"\\]|\\.)*")\s*$'
)
# Attribute (lower-cased, core schema URN removed) → the person field it filters on.
_ATTRIBUTES = {"username": "email", "emails.value": "email", "emails": "email", "externalid": "external_id"}


@dataclass(frozen=True)
class PersonFilter:
    email: str | None = None
    external_id: str | None = None


def parse_filter(text: str | None) -> PersonFilter:
    """The lookup a filter asks for; refuses the filters CueCard does not answer."""
    if text is None or not text.strip():
        return PersonFilter()
    match = _COMPARISON.match(text)
    if match is None:
        raise ScimProblem(
            'Only one eq comparison is supported, e.g. userName eq "hanako@example.com".',
            scim_type="invalidFilter",
        )
    attribute = match["attr"].strip().lower().removeprefix(_CORE)
    if match["op"].lower() != "eq" or attribute not in _ATTRIBUTES:
        raise ScimProblem(
            "Supported filters: userName eq, externalId eq and emails.value eq (one comparison).",
            scim_type="invalidFilter",
        )
    try:
        value = json.loads(match["value"])
    except ValueError as exc:
        raise ScimProblem("The filter's value is not a valid string.", scim_type="invalidFilter") from exc
    if _ATTRIBUTES[attribute] == "email":
        return PersonFilter(email=value.lower())
    return PersonFilter(external_id=value)
