"""Webhooks for systems: register, list, change, delete, rotate the signing secret; test one,
read its deliveries and send one again.

The worker's side (fan-out of events, sending, retries, pausing) is service/webhooks/delivery.py:
these use cases only write the deliveries it sends and read what it recorded."""

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
from service.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from service.events import service as events_service
from service.events.catalogue import EventType, readable_types
from service.pagination import Page, PageParams, fetch_page
from service.products import service as products_service
from service.webhooks import policies
from service.webhooks.models import (
    UNFINISHED,
    AttemptOutcome,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)
from service.webhooks.schemas import (
    DeliveryAttemptRead,
    DeliveryRead,
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


# --- deliveries --------------------------------------------------------------------------------


def _delivery_read(delivery: WebhookDelivery, attempts: list[WebhookDeliveryAttempt]) -> DeliveryRead:
    newest = attempts[-1] if attempts else None
    return DeliveryRead(
        id=delivery.id,
        webhook_id=delivery.webhook_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        product_key=delivery.product_key,
        status=DeliveryStatus(delivery.status),
        attempt=delivery.attempts,
        status_code=newest.status_code if newest else None,
        error=newest.error if newest else None,
        latency_ms=newest.latency_ms if newest else None,
        at=newest.attempted_at if newest else None,
        next_attempt_at=delivery.next_attempt_at if delivery.status in UNFINISHED else None,
        reason=delivery.reason,
        redelivery_of=delivery.redelivery_of,
        created_at=delivery.created_at,
        finished_at=delivery.finished_at,
        revision=delivery.revision,
        attempts=[
            DeliveryAttemptRead(
                attempt=a.attempt,
                at=a.attempted_at,
                outcome=AttemptOutcome(a.outcome),
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                error=a.error,
                next_attempt_at=a.next_attempt_at,
            )
            for a in attempts
        ],
    )


async def _attempts_of(
    session: AsyncSession, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookDeliveryAttempt]]:
    """Every attempt of these deliveries, oldest first, in one query."""
    found: dict[uuid.UUID, list[WebhookDeliveryAttempt]] = {d: [] for d in delivery_ids}
    if not delivery_ids:
        return found
    stmt = (
        select(WebhookDeliveryAttempt)
        .where(col(WebhookDeliveryAttempt.delivery_id).in_(delivery_ids))
        .order_by(col(WebhookDeliveryAttempt.attempted_at), col(WebhookDeliveryAttempt.attempt))
    )
    for attempt in (await session.execute(stmt)).scalars():
        found[attempt.delivery_id].append(attempt)
    return found


async def _require_delivery(
    session: AsyncSession, webhook: Webhook, delivery_id: uuid.UUID
) -> WebhookDelivery:
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook.id:
        raise NotFound("No such delivery of this webhook.")
    return delivery


def _check_sending(webhook: Webhook) -> None:
    if not webhook.active:
        why = f" ({webhook.paused_reason})" if webhook.paused_reason else ""
        raise Conflict(f"The webhook is not active{why}; resume it with PATCH active: true first.")


async def _new_delivery(session: AsyncSession, delivery: WebhookDelivery) -> DeliveryRead:
    session.add(delivery)
    await session.flush()
    return _delivery_read(delivery, [])


@transactional
async def test_webhook(session: AsyncSession, principal: Principal, webhook_id: uuid.UUID) -> DeliveryRead:
    """Queues a `webhook.ping` for this webhook alone; the worker sends it."""
    _check_can_manage(principal)
    webhook = await _require(session, principal, webhook_id)
    _check_sending(webhook)
    event = events_service.emit(session, EventType.WEBHOOK_PING, {"webhook_id": webhook.id})
    await session.flush()  # the event first: the delivery refers to it
    # No `event_seq`: asked for by hand, it waits for no other delivery and holds none up.
    return await _new_delivery(
        session, WebhookDelivery(webhook_id=webhook.id, event_id=event.id, event_type=event.type)
    )


async def list_deliveries(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID, params: PageParams
) -> Page[DeliveryRead]:
    """Lists a webhook's deliveries, newest first, each with its attempts."""
    _check_can_manage(principal)
    webhook = await _require(session, principal, webhook_id)
    stmt = select(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == webhook.id)
    page = await fetch_page(session, stmt, WebhookDelivery, params, newest_first=True)
    attempts = await _attempts_of(session, [d.id for d in page.rows])
    return Page(items=[_delivery_read(d, attempts[d.id]) for d in page.rows], next_cursor=page.next_cursor)


async def get_delivery(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryRead:
    """Gets one delivery of a webhook with its attempts."""
    _check_can_manage(principal)
    delivery = await _require_delivery(session, await _require(session, principal, webhook_id), delivery_id)
    return _delivery_read(delivery, (await _attempts_of(session, [delivery.id]))[delivery.id])


@transactional
async def redeliver(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryRead:
    """Queues the delivery's event again (a new delivery, the same `webhook-id`), also after it failed."""
    _check_can_manage(principal)
    webhook = await _require(session, principal, webhook_id)
    original = await _require_delivery(session, webhook, delivery_id)
    if original.status in UNFINISHED:
        raise Conflict("This delivery is still being delivered; it is retried until it succeeds or gives up.")
    _check_sending(webhook)
    return await _new_delivery(
        session,
        WebhookDelivery(
            webhook_id=webhook.id,
            event_id=original.event_id,
            event_type=original.event_type,
            product_key=original.product_key,
            redelivery_of=original.id,
        ),
    )
