"""SCIM User ↔ CueCard person: one place for the attribute mapping (docs/scim.md has the table).

- `userName` is any string, unique ignoring case, stored as sent (people provisioned before
  it was free answer their e-mail). The e-mail comes from `emails`: the primary entry, else
  the first work one, else the first (a new one first when several qualify); a userName that
  is an address stands in when `emails` has none; neither is a 400. The e-mail is reported
  once, as the work e-mail; other addresses are not kept.
- `displayName` is the display name. Without one, `name.formatted`; without that, the name is
  composed from `name.familyName` and `name.givenName`: family name first when either is
  written in Chinese, Japanese or Korean script (山田 太郎), given name first otherwise
  (Barbara Jensen). `name` is reported by splitting the display name by the same rule.
- `preferredLanguage` (else `locale`) is the locale, when it is a BCP 47 tag; other values are
  ignored. Both are reported as the locale.
- Enterprise extension: `employeeNumber`, `department` (a department key or name; reported as
  the key), `manager.value` (a person id).
- CueCard extension: `hireDate` (YYYY-MM-DD), `role`.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from pydantic import EmailStr, TypeAdapter, ValidationError
from scim2_models import Email, EnterpriseUser, GroupMember, Manager, Meta, Name

from service.concurrency import etag
from service.fields import Locale
from service.groups.schemas import GroupRead, GroupWrite
from service.people.schemas import ProvisionedPersonRead
from service.scim.errors import ScimProblem
from service.scim.models import CueCardUser, ScimGroup, ScimUser

ENTERPRISE = str(EnterpriseUser.__schema__)
Mode = Literal["create", "replace", "patch"]

# Han, Hiragana, Katakana, Hangul (and their extensions): names written family name first.
_CJK = re.compile(r"[\u1100-\u11ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")
_LOCALE = TypeAdapter(Locale)
_EMAIL = TypeAdapter(EmailStr)


def _is_cjk(*texts: str | None) -> bool:
    return any(text and _CJK.search(text) for text in texts)


def compose_name(given: str | None, family: str | None) -> str | None:
    """One display name from name parts: 山田 太郎, Barbara Jensen."""
    given, family = (given or "").strip(), (family or "").strip()
    parts = [family, given] if _is_cjk(given, family) else [given, family]
    return " ".join(p for p in parts if p) or None


def split_name(display_name: str) -> tuple[str | None, str | None]:
    """(given, family) read back from a display name by the rule `compose_name` writes."""
    text = " ".join(display_name.split())
    if " " not in text:
        return text or None, None
    if _is_cjk(text):
        family, given = text.split(" ", 1)
    else:
        given, family = text.rsplit(" ", 1)
    return given, family


def _valid_locale(value: str | None) -> str | None:
    if not value:
        return None
    candidate = value.replace("_", "-")  # en_US, as some HR systems write it
    try:
        return _LOCALE.validate_python(candidate)
    except ValidationError:
        return None


def to_scim(person: ProvisionedPersonRead, users_url: str) -> Any:
    """The SCIM User for a person (full record: provisioning callers see every field)."""
    given, family = split_name(person.display_name)
    user = ScimUser(
        id=str(person.id),
        external_id=person.external_id,
        user_name=person.user_name,
        name=Name(given_name=given, family_name=family),
        display_name=person.display_name,
        preferred_language=person.locale,
        locale=person.locale,
        active=person.active,
        emails=[Email(value=person.email, type="work")],
        meta=Meta(
            resource_type="User",
            created=person.created_at,
            last_modified=person.updated_at,
            location=f"{users_url}/{person.id}",
            version=etag(person.revision),
        ),
    )
    if person.employee_number or person.department_key or person.manager_id:
        user[EnterpriseUser] = EnterpriseUser(
            employee_number=person.employee_number,
            department=person.department_key,
            manager=Manager(value=str(person.manager_id), ref=f"{users_url}/{person.manager_id}")
            if person.manager_id
            else None,
        )
    user[CueCardUser] = CueCardUser(hire_date=person.hire_date, role=person.role)
    return user


# --- requests ---------------------------------------------------------------------------


def _manager_value(raw: Any, users_url: str) -> Any:
    """Manager as `{"value": id, "$ref": url}`: Entra sends the bare id, most clients no $ref."""
    if isinstance(raw, str):
        raw = {"value": raw} if raw else None
    if isinstance(raw, dict) and raw.get("value") and not raw.get("$ref"):
        raw = {**raw, "$ref": f"{users_url}/{raw['value']}"}
    return raw


def normalise_resource(payload: Any, users_url: str) -> Any:
    """Bring a POST/PUT body's known deviations into the standard shape before validation."""
    if isinstance(payload, dict):
        for key, extension in payload.items():
            if key.lower() == ENTERPRISE.lower() and isinstance(extension, dict):
                for name in list(extension):
                    if name.lower() == "manager":
                        extension[name] = _manager_value(extension[name], users_url)
    return payload


def normalise_patch(payload: Any, users_url: str) -> Any:
    """The same for the values of PATCH operations (path forms and Okta's path-less form)."""
    operations = payload.get("Operations") if isinstance(payload, dict) else None
    for operation in operations if isinstance(operations, list) else []:
        if not isinstance(operation, dict):
            continue
        path = str(operation.get("path") or "").lower()
        if path.endswith(f"{ENTERPRISE.lower()}:manager") and "value" in operation:
            operation["value"] = _manager_value(operation["value"], users_url)
        elif not path and isinstance(operation.get("value"), dict):
            value = operation["value"]
            for key in list(value):
                if key.lower() == ENTERPRISE.lower() and isinstance(value[key], dict):
                    normalise_resource({key: value[key]}, users_url)
                elif key.lower() == f"{ENTERPRISE.lower()}:manager":
                    value[key] = _manager_value(value[key], users_url)
    return payload


def _picked_email(user: ScimUser, current: str | None = None) -> str | None:
    """The e-mail among `emails`: the primary one, else the first work one, else the first;
    when several qualify (Entra adds a work address beside the one it replaces), a new one."""
    emails = [e for e in user.emails or [] if e.value]
    primary = [e.value for e in emails if e.primary]
    work = [e.value for e in emails if str(e.type or "").lower() == "work"]
    candidates = primary or work or [e.value for e in emails]
    new = [value for value in candidates if value and value.lower() != (current or "").lower()]
    return (new or candidates or [None])[0]


def _address(text: str | None) -> str | None:
    """`text` when it is an e-mail address (a userName may be one, or anything else)."""
    if not text or "@" not in text:
        return None
    try:
        return _EMAIL.validate_python(text)
    except ValidationError:
        return None


_NO_EMAIL = (
    "A User needs an e-mail address: send `emails` (a primary or work one), "
    "or a userName that is an e-mail address."
)


def _sources(user: ScimUser, current_email: str | None = None) -> dict[str, Any]:
    """Each SCIM attribute CueCard reads, as a comparable value."""
    enterprise = user[EnterpriseUser]
    cuecard = user[CueCardUser]
    name = user.name
    return {
        "userName": user.user_name,
        "emails": _picked_email(user, current_email),
        "displayName": user.display_name,
        "name": (name.formatted or compose_name(name.given_name, name.family_name)) if name else None,
        "preferredLanguage": user.preferred_language,
        "locale": user.locale,
        "active": user.active,
        "externalId": user.external_id,
        "enterprise": enterprise is not None,
        "employeeNumber": enterprise.employee_number if enterprise else None,
        "department": enterprise.department if enterprise else None,
        "manager": enterprise.manager.value if enterprise and enterprise.manager else None,
        "cuecard": cuecard is not None,
        "hireDate": cuecard.hire_date if cuecard else None,
        "role": cuecard.role if cuecard else None,
    }


def person_fields(user: ScimUser, *, mode: Mode, before: ScimUser | None = None) -> dict[str, Any]:
    """The person fields a request sets, as PersonCreate/PersonUpdate names them.

    `create` and `replace` read the whole resource (a `replace` leaves alone what a schema it
    does not carry holds, and never clears the display name, role or active flag); `patch`
    compares the patched resource with the one before it and keeps what changed.
    """
    was = _sources(before) if before is not None else None
    now = _sources(user, was["emails"] if was else None)

    def changed(key: str) -> bool:
        return was is None or now[key] != was[key]

    def first(*candidates: tuple[str, Any]) -> Any:
        for key, value in candidates:
            if changed(key) and value:
                return value
        return None

    fields: dict[str, Any] = {}
    # userName is any string; the e-mail comes from `emails`, else from a userName that is one.
    if now["userName"] and changed("userName"):
        fields["user_name"] = now["userName"]
    email = None
    if mode != "patch" or changed("emails"):
        email = now["emails"] or _address(now["userName"])
        if email is None:
            raise ScimProblem(_NO_EMAIL, scim_type="invalidValue")
        fields["email"] = email
    display_name = first(("displayName", now["displayName"]), ("name", now["name"]))
    if display_name is None and mode == "create":
        display_name = (email or "").split("@")[0] or None
    if display_name is not None:
        fields["display_name"] = display_name
    locale = first(
        ("preferredLanguage", _valid_locale(now["preferredLanguage"])),
        ("locale", _valid_locale(now["locale"])),
    )
    if locale is not None:
        fields["locale"] = locale
    if now["active"] is not None and changed("active"):
        fields["active"] = now["active"]
    if mode == "create" or changed("externalId"):
        fields["external_id"] = now["externalId"] or None

    enterprise_applies = mode == "create" or (mode == "replace" and now["enterprise"])
    for key, field in (("employeeNumber", "employee_number"), ("department", "department_key")):
        if enterprise_applies or (mode == "patch" and changed(key)):
            fields[field] = now[key] or None
    if enterprise_applies or (mode == "patch" and changed("manager")):
        fields["manager_id"] = _person_id(now["manager"]) if now["manager"] else None

    cuecard_applies = mode == "create" or (mode == "replace" and now["cuecard"])
    if cuecard_applies or (mode == "patch" and changed("hireDate")):
        fields["hire_date"] = now["hireDate"]
    if now["role"] and (cuecard_applies or changed("role")):
        fields["role"] = now["role"]
    if mode == "create":
        fields = {k: v for k, v in fields.items() if v is not None}
    return fields


def _person_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ScimProblem(f"manager '{value}' is not the id of a User.", scim_type="invalidValue") from exc


# --- groups -------------------------------------------------------------------------------


def group_to_scim(group: GroupRead, groups_url: str, users_url: str, *, display: bool = False) -> Any:
    """The SCIM Group for a directory group: members are Users with their $ref; `display` (the
    User's display name) only when asked for (`attributes=members.display`): it is the User's,
    not the Group's, and a client comparing what it sent would see it change under it."""
    return ScimGroup(
        id=str(group.id),
        external_id=group.external_id,
        display_name=group.display_name,
        members=[
            GroupMember(
                value=str(m.person_id),
                display=m.display_name if display else None,
                ref=f"{users_url}/{m.person_id}",
                type="User",
            )
            for m in group.members
        ],
        meta=Meta(
            resource_type="Group",
            created=group.created_at,
            last_modified=group.updated_at,
            location=f"{groups_url}/{group.id}",
            version=etag(group.revision),
        ),
    )


def normalise_group_patch(payload: Any, group_id: str) -> Any:
    """Okta renames a group with a path-less replace whose value repeats the group's `id`, a
    read-only attribute: the repeated id is dropped rather than refused."""
    operations = payload.get("Operations") if isinstance(payload, dict) else None
    for operation in operations if isinstance(operations, list) else []:
        if (
            isinstance(operation, dict)
            and not operation.get("path")
            and isinstance(operation.get("value"), dict)
        ):
            value = operation["value"]
            if str(value.get("id", group_id)) == group_id:
                value.pop("id", None)
    return payload


def group_write(group: Any) -> GroupWrite:
    """What a SCIM Group sets: name, externalId, members (Users, by id)."""
    member_ids = []
    for member in group.members or []:
        if member.type is not None and str(member.type).lower() != "user":
            raise ScimProblem("Group members are Users (groups do not nest).", scim_type="invalidValue")
        try:
            member_ids.append(uuid.UUID(str(member.value)))
        except ValueError as exc:
            raise ScimProblem(
                f"member '{member.value}' is not the id of a User.", scim_type="invalidValue"
            ) from exc
    try:
        return GroupWrite(
            display_name=group.display_name, external_id=group.external_id or None, member_ids=member_ids
        )
    except ValidationError as exc:
        raise ScimProblem(f"Invalid Group: {exc.errors()[0]['msg']}", scim_type="invalidValue") from exc
