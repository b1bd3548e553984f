"""REST adapter for customer accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from service.accounts import service as accounts_service
from service.accounts.schemas import AccountCreate, AccountMerge, AccountRead, AccountSegment, AccountUpdate
from service.api.idempotency import IdempotencyKey, idempotent
from service.api.rest import NOT_MODIFIED, PageDep, ReadSessionDep, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.db import SessionDep
from service.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["accounts"])

IfMatch = Annotated[
    str | None, Header(description="Optional: change only this version (the ETag you read; stale → 412).")
]


@router.get("/accounts", response_model=Page[AccountRead])
async def list_accounts(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    segment: AccountSegment | None = None,
    include_merged: Annotated[
        bool, Query(description="Also list accounts merged into others (they name their survivor).")
    ] = False,
) -> Response:
    """List customer accounts, oldest first (editors, managers, admins, scope feedback:read)."""
    result = await accounts_service.list_accounts(
        session, principal, page, segment=segment, include_merged=include_merged
    )
    return page_response(request, result)


@router.post("/accounts", status_code=201, response_model=AccountRead)
async def create_account(
    request: Request,
    body: AccountCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a customer account (editors, admins). `key` is a URL-safe slug, derived from the
    name when omitted (ASCII words of the name and a stable hash: Japanese names work);
    `annual_revenue` is `{"amount": "<decimal string>", "currency": "<ISO 4217>"}`. A key or
    name another account holds → 409. Accepts `Idempotency-Key`."""

    async def produce() -> Response:
        account = await accounts_service.create_account(session, principal, body)
        return resource_response(
            request,
            account,
            accounts_service.account_etag(account),
            status_code=201,
            location=f"/api/v1/accounts/{account.id}",
        )

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("/accounts/{account_id}", response_model=AccountRead, responses=NOT_MODIFIED)
async def get_account(
    request: Request, account_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    """Get an account; a merged one names its survivor in `merged_into_id`. Honours `If-None-Match`."""
    account = await accounts_service.get_account(session, principal, account_id)
    return resource_response(request, account, accounts_service.account_etag(account))


@router.patch("/accounts/{account_id}", response_model=AccountRead)
async def update_account(
    request: Request,
    account_id: uuid.UUID,
    body: AccountUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: IfMatch = None,
) -> Response:
    """Change an account's key, name, segment or annual revenue (editors, admins); `null`
    clears segment and revenue. A merged account is not changed (409). `If-Match` honoured."""
    account = await accounts_service.update_account(session, principal, account_id, body, if_match=if_match)
    return resource_response(request, account, accounts_service.account_etag(account))


@router.post("/accounts/{account_id}/merge", response_model=AccountRead)
async def merge_account(
    request: Request, account_id: uuid.UUID, body: AccountMerge, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Merge this account into another, the same customer (editors, admins), and get the survivor.

    The feedback of this account (and of accounts merged into it before) moves to the survivor
    in one transaction. This account stays, with `merged_into_id` set: feedback that names its
    key or name lands on the survivor. Into itself → 422; this or the target already merged → 409.
    """
    survivor = await accounts_service.merge_account(session, principal, account_id, body)
    return resource_response(request, survivor, accounts_service.account_etag(survivor))
