"""Chat destinations (admins): Slack incoming webhooks and Teams workflow webhooks, per
department or company-wide; `POST/GET /api/v1/chat-destinations`, `DELETE …/{id}`.

A destination's URL is a secret (whoever has it can post to the channel): it is stored as
given and shown masked on every read. It is checked as a webhook URL is
(service/webhooks/ssrf.py): a host that resolves to a loopback, private, link-local or metadata
address is refused unless it is in CUECARD_WEBHOOK_ALLOW_HOSTS; and, unlike a webhook, it must
be https (the secret would cross the network in clear) unless its host is allow-listed.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.auth.principal import Principal, Role
from service.db import session_settings, transactional
from service.errors import Forbidden, Invalid, NotFound, field_error
from service.notifications.models import ChatDestination
from service.notifications.schemas import ChatDestinationCreate, ChatDestinationRead, ChatKind
from service.pagination import Page, PageParams, fetch_page
from service.people import service as people_service
from service.webhooks.ssrf import UnsafeWebhookURL, check_url, host_allowed, parse_url


def _check_admin(principal: Principal) -> None:
    if not (principal.has_role(Role.ADMIN) or principal.is_operator):
        raise Forbidden("Only admins configure chat destinations.")


def masked(url: str) -> str:
    """scheme://host/…last4: enough to tell destinations apart, never enough to post."""
    try:
        target = parse_url(url)
    except UnsafeWebhookURL:
        return "…"
    return f"{target.scheme}://{target.host}/…{url[-4:]}"


def _read(row: ChatDestination) -> ChatDestinationRead:
    return ChatDestinationRead(
        id=row.id,
        kind=ChatKind(row.kind),
        url=masked(row.url),
        department_key=row.department_key,
        created_by=row.created_by,
        created_at=row.created_at,
    )


@transactional
async def create_destination(
    session: AsyncSession, principal: Principal, data: ChatDestinationCreate
) -> ChatDestinationRead:
    """Adds a chat destination for a department or the whole company (admins)."""
    _check_admin(principal)
    errors: list[dict[str, str]] = []
    allow = session_settings(session).webhook_allow_hosts
    url = ""
    try:
        target = parse_url(data.url)
        if target.scheme != "https" and not host_allowed(target.host, target.port, allow):
            raise UnsafeWebhookURL("a chat destination URL is a secret: it must be https")
        url = await check_url(data.url, allow)
    except UnsafeWebhookURL as exc:
        errors.append(field_error("url", exc.reason))
    if data.department_key is not None:
        known = await people_service.existing_department_keys(session, principal, [data.department_key])
        if data.department_key not in known:
            errors.append(field_error("department_key", f"no such department: {data.department_key}"))
    if errors:
        raise Invalid("The chat destination cannot be added as asked; see `errors`.", errors=errors)
    row = ChatDestination(
        kind=data.kind.value, url=url, department_key=data.department_key, created_by=principal.subject
    )
    session.add(row)
    await session.flush()
    return _read(row)


async def list_destinations(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Page[ChatDestinationRead]:
    """Lists chat destinations, oldest first, URLs masked (admins)."""
    _check_admin(principal)
    page = await fetch_page(session, select(ChatDestination), ChatDestination, params)
    return Page(items=[_read(row) for row in page.rows], next_cursor=page.next_cursor)


@transactional
async def delete_destination(session: AsyncSession, principal: Principal, destination_id: uuid.UUID) -> None:
    """Removes a chat destination, and with it the record of its posts (admins)."""
    _check_admin(principal)
    row = (
        (await session.execute(select(ChatDestination).where(col(ChatDestination.id) == destination_id)))
        .scalars()
        .first()
    )
    if row is None:
        raise NotFound("No such chat destination.")
    await session.delete(row)
    await session.flush()
