"""REST adapter for the webhooks management API (admins, and clients with `webhooks:manage`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from service.api.idempotency import IdempotencyKey, idempotent
from service.api.rest import NOT_MODIFIED, PageDep, ReadSessionDep, json, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.concurrency import etag
from service.db import SessionDep
from service.pagination import Page
from service.webhooks import service as webhooks_service
from service.webhooks.schemas import (
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookSecretRotated,
    WebhookUpdate,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

# Secrets shown once must not sit in a shared cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post("", status_code=201, response_model=WebhookCreated)
async def create_webhook(
    request: Request,
    body: WebhookCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Register a webhook (admin, or a client with `webhooks:manage`). A client subscribes only
    to event types its scopes may read. The signing `secret` is shown in this response only.
    A URL resolving to a loopback, private, link-local or metadata address is refused (422)
    unless its host is in `CUECARD_WEBHOOK_ALLOW_HOSTS`. With `Idempotency-Key`, a retry
    whose first answer was lost replays it, secret included, instead of registering twice."""

    async def produce() -> Response:
        created = await webhooks_service.create_webhook(session, principal, body)
        return json(
            created,
            status_code=201,
            headers={
                **NO_STORE,
                "Location": f"/api/v1/webhooks/{created.id}",
                "ETag": etag(created.revision),
            },
        )

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("", response_model=Page[WebhookRead])
async def list_webhooks(
    request: Request, session: ReadSessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    """List webhooks, oldest first: every one for admins, a client's own for a client."""
    return page_response(request, await webhooks_service.list_webhooks(session, principal, page))


@router.get("/{webhook_id}", response_model=WebhookRead, responses=NOT_MODIFIED)
async def get_webhook(
    request: Request, webhook_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    """Get a webhook (never its secret)."""
    webhook = await webhooks_service.get_webhook(session, principal, webhook_id)
    return resource_response(request, webhook, etag(webhook.revision))


@router.patch("/{webhook_id}", response_model=WebhookRead)
async def update_webhook(
    request: Request,
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Change a webhook's `url`, `events`, `product_keys` (`null`: every product) or `active`;
    honours `If-Match`. The same rules as at registration apply."""
    webhook = await webhooks_service.update_webhook(session, principal, webhook_id, body, if_match=if_match)
    return resource_response(request, webhook, etag(webhook.revision))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Response:
    """Delete a webhook: nothing more is sent to it."""
    await webhooks_service.delete_webhook(session, principal, webhook_id)
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookSecretRotated)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Give the webhook a new signing secret, shown in this response only. The previous secret
    keeps signing beside it (two `v1,` signatures) until `previous_secret_expires_at`
    (`CUECARD_WEBHOOK_SECRET_OVERLAP_HOURS`, 24 by default), so receivers switch at their pace."""
    rotated = await webhooks_service.rotate_secret(session, principal, webhook_id)
    return json(rotated, headers={**NO_STORE, "ETag": etag(rotated.revision)})


@router.post("/{webhook_id}/test", status_code=202, response_model=DeliveryRead)
async def test_webhook(
    request: Request, webhook_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Queue a `webhook.ping` event (`data`: `{"webhook_id"}`) for this webhook alone; the worker
    sends it, signed as every delivery. 202 with the delivery: follow it at `Location`.
    409 while the webhook is not active."""
    delivery = await webhooks_service.test_webhook(session, principal, webhook_id)
    return _accepted(request, delivery)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryRead])
async def list_deliveries(
    request: Request, webhook_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    """List the webhook's deliveries, newest first, each with every attempt (status code,
    latency, outcome, error, when it is tried again)."""
    return page_response(
        request, await webhooks_service.list_deliveries(session, principal, webhook_id, page)
    )


@router.get("/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryRead, responses=NOT_MODIFIED)
async def get_delivery(
    request: Request,
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    session: ReadSessionDep,
    principal: PrincipalDep,
) -> Response:
    """Get one delivery of the webhook with every attempt."""
    delivery = await webhooks_service.get_delivery(session, principal, webhook_id, delivery_id)
    return resource_response(request, delivery, etag(delivery.revision))


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202, response_model=DeliveryRead)
async def redeliver(
    request: Request,
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    """Send the delivery's event again, also after it failed for good: a new delivery with the
    same event (the same `webhook-id`, so receivers de-duplicate). 409 while the delivery is
    still pending or being delivered, or the webhook is not active."""
    delivery = await webhooks_service.redeliver(session, principal, webhook_id, delivery_id)
    return _accepted(request, delivery)


def _accepted(request: Request, delivery: DeliveryRead) -> Response:
    location = f"/api/v1/webhooks/{delivery.webhook_id}/deliveries/{delivery.id}"
    return resource_response(request, delivery, etag(delivery.revision), status_code=202, location=location)
