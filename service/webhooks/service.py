"""Webhooks for systems: register, list, change, delete, and rotate the signing secret.

Delivery (the worker, tests, attempts and redelivery) comes later; these use cases only keep
the registrations it will read."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.auth.principal import Principal
from service.clients import service as clients_service
from service.concurrency import check_if_match, etag
from service.db import session_settings, transactional, utcnow
from service.errors import Forbidden, Invalid, NotFound, field_error
from service.events.catalogue import EventType, readable_types
from service.pagination import Page, PageParams, fetch_page
from service.products import service as products_service
from service.webhooks import policies
from service.webhooks.models import Webhook
from service.webhooks.schemas import (
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookSecretRotated,
    WebhookUpdate,
)
from service.webhooks.signing import new_secret
from service.webhooks.ssrf import UnsafeWebhookURL, check_url

# Sent only to the webhook under test, never subscribed to (see the catalogue).
_NOT_SUBSCRIBABLE = frozenset({EventType.WEBHOOK_PING})


def _check_can_manage(principal: Principal) -> None:
    if not policies.can_manage(principal):
        raise Forbidden("Only admins and service clients with the webhooks:manage scope manage webhooks.")


def _read(webhook: Webhook) -> WebhookRead:
    return WebhookRead.model_validate(webhook)


async def _checked_url(session: AsyncSession, url: str, errors: list[dict[str, str]]) -> str:
    """The URL normalized, or "" with an error added: refused without a request being made."""
    try:
        return await check_url(url, session_settings(session).webhook_allow_hosts)
    except UnsafeWebhookURL as exc:
        errors.append(field_error("url", exc.reason))
        return ""


async def _subscriber_readable(
    session: AsyncSession, principal: Principal, created_by: str
) -> frozenset[str]:
    """The event types a webhook of `created_by` may carry: a client's webhook only what that
    client's scopes may read, even when an admin changes it (its receiver is the client's)."""
    if created_by.startswith("client:") and created_by != principal.subject:
        try:
            client = await clients_service.get_client(session, principal, created_by.removeprefix("client:"))
        except NotFound:
            return frozenset()
        return frozenset(t.value for t in readable_types(frozenset(client.scopes)))
    return frozenset(t.value for t in readable_types(principal.scopes, admin=policies.is_admin(principal)))


def _checked_events(readable: frozenset[str], events: list[str], errors: list[dict[str, str]]) -> list[str]:
    """The event types, once each, if every one is known and readable by the subscriber."""
    duplicates = sorted({e for e in events if events.count(e) > 1})
    if duplicates:
        errors.append(field_error("events", f"listed more than once: {', '.join(duplicates)}"))
    known = {t.value for t in EventType} - _NOT_SUBSCRIBABLE
    unknown = [e for e in events if e not in known]
    if unknown:
        errors.append(
            field_error("events", f"not event types one can subscribe to: {', '.join(sorted(set(unknown)))}")
        )
    beyond = sorted({e for e in events if e in known and e not in readable})
    if beyond:
        errors.append(
            field_error("events", f"the subscribing client's scopes may not read: {', '.join(beyond)}")
        )
    return list(dict.fromkeys(events))


async def _checked_product_keys(
    session: AsyncSession, principal: Principal, keys: list[str] | None, errors: list[dict[str, str]]
) -> list[str] | None:
    if keys is None:
        return None
    missing = await products_service.unknown_keys(session, principal, keys)
    if missing:
        errors.append(field_error("product_keys", f"no such products: {', '.join(missing)}"))
    return list(dict.fromkeys(keys))


async def _require(session: AsyncSession, principal: Principal, webhook_id: uuid.UUID) -> Webhook:
    webhook = await session.get(Webhook, webhook_id)
    if webhook is None or not policies.can_see(principal, webhook.created_by):
        raise NotFound("No such webhook.")
    return webhook


@transactional
async def create_webhook(session: AsyncSession, principal: Principal, data: WebhookCreate) -> WebhookCreated:
    """Registers a webhook and returns its signing secret, once."""
    _check_can_manage(principal)
    errors: list[dict[str, str]] = []
    url = await _checked_url(session, data.url, errors)
    readable = await _subscriber_readable(session, principal, principal.subject)
    events = _checked_events(readable, data.events, errors)
    product_keys = await _checked_product_keys(session, principal, data.product_keys, errors)
    if errors:
        raise Invalid("The webhook cannot be registered as asked; see `errors`.", errors=errors)
    secret = new_secret()
    webhook = Webhook(
        url=url, events=events, product_keys=product_keys, created_by=principal.subject, secret=secret
    )
    session.add(webhook)
    await session.flush()
    return WebhookCreated(**_read(webhook).model_dump(), secret=secret)


async def list_webhooks(session: AsyncSession, principal: Principal, params: PageParams) -> Page[WebhookRead]:
    """Lists webhooks, oldest first: every one for admins, its own for a client."""
    _check_can_manage(principal)
    stmt = select(Webhook)
    if not policies.is_admin(principal):
        stmt = stmt.where(col(Webhook.created_by) == principal.subject)
    page = await fetch_page(session, stmt, Webhook, params)
    return Page(items=[_read(w) for w in page.rows], next_cursor=page.next_cursor)


async def get_webhook(session: AsyncSession, principal: Principal, webhook_id: uuid.UUID) -> WebhookRead:
    """Gets a webhook by its id."""
    _check_can_manage(principal)
    return _read(await _require(session, principal, webhook_id))


@transactional
async def update_webhook(
    session: AsyncSession,
    principal: Principal,
    webhook_id: uuid.UUID,
    data: WebhookUpdate,
    *,
    if_match: str | None,
) -> WebhookRead:
    """Changes a webhook's url, events, product filter or active flag; honours If-Match."""
    _check_can_manage(principal)
    webhook = await _require(session, principal, webhook_id)
    check_if_match(if_match, etag(webhook.revision), required=False)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    errors: list[dict[str, str]] = []
    for required in ("url", "events", "active"):
        if required in changes and changes[required] is None:
            errors.append(field_error(required, "cannot be null"))
    if changes.get("url") is not None:
        changes["url"] = await _checked_url(session, changes["url"], errors)
    if changes.get("events") is not None:
        readable = await _subscriber_readable(session, principal, webhook.created_by)
        changes["events"] = _checked_events(readable, changes["events"], errors)
    if "product_keys" in changes:
        changes["product_keys"] = await _checked_product_keys(
            session, principal, changes["product_keys"], errors
        )
    if errors:
        raise Invalid("The webhook cannot be changed as asked; see `errors`.", errors=errors)
    for name, value in changes.items():
        setattr(webhook, name, value)
    if changes.get("active"):
        webhook.paused_reason = None  # reactivating is the admin's answer to a pause
    webhook.revision += 1
    webhook.updated_at = utcnow()
    return _read(webhook)


@transactional
async def delete_webhook(session: AsyncSession, principal: Principal, webhook_id: uuid.UUID) -> None:
    """Deletes a webhook: nothing more is sent to it."""
    _check_can_manage(principal)
    await session.delete(await _require(session, principal, webhook_id))


@transactional
async def rotate_secret(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID
) -> WebhookSecretRotated:
    """Gives a webhook a new secret (shown once); the current one keeps signing for the overlap."""
    _check_can_manage(principal)
    webhook = await _require(session, principal, webhook_id)
    overlap = timedelta(hours=session_settings(session).webhook_secret_overlap_hours)
    expires_at = utcnow() + overlap
    secret = new_secret()
    webhook.previous_secret, webhook.previous_secret_expires_at = webhook.secret, expires_at
    webhook.secret = secret
    webhook.revision += 1
    webhook.updated_at = utcnow()
    return WebhookSecretRotated(
        id=webhook.id, secret=secret, previous_secret_expires_at=expires_at, revision=webhook.revision
    )


def signing_secrets(webhook: Webhook, *, now: datetime | None = None) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one in its overlap."""
    at = now or utcnow()
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret and expires is not None and expires > at:
        return [webhook.secret, webhook.previous_secret]
    return [webhook.secret]
