"""Customer accounts: kept by editors and admins, matched from feedback, merged when two are one.

A merge keeps the merged account (its key and name still resolve, to the survivor) and moves
its feedback to the survivor in the same transaction (accounts.hooks: the feedback hub follows).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import hooks, policies, repository
from service.accounts.keys import derived_key
from service.accounts.models import Account
from service.accounts.schemas import (
    ISO_4217,
    AccountCreate,
    AccountMerge,
    AccountRead,
    AccountSegment,
    AccountUpdate,
    Money,
    MoneyRead,
    money_text,
    segment_of,
)
from service.auth.principal import Principal
from service.concurrency import check_if_match, etag
from service.db import conflict_on_duplicate, transactional, utcnow
from service.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from service.pagination import Page, PageParams
from service.reads import ReadRow

# --- shaping ------------------------------------------------------------------------------------


def to_read(account: Account | ReadRow) -> AccountRead:
    revenue = None
    if account.revenue_amount is not None and account.revenue_currency is not None:
        revenue = MoneyRead(amount=money_text(account.revenue_amount), currency=account.revenue_currency)
    return AccountRead(
        id=account.id,
        key=account.key,
        name=account.name,
        segment=AccountSegment(account.segment) if account.segment else None,
        annual_revenue=revenue,
        merged_into_id=account.merged_into_id,
        created_at=account.created_at,
        updated_at=account.updated_at,
        revision=account.revision,
    )


def account_etag(account: AccountRead) -> str:
    return etag(account.revision)


def _require_read(principal: Principal) -> None:
    if not policies.can_read(principal):
        raise Forbidden("Accounts are for editors, managers, admins and integrations with feedback:read.")


def _require_manage(principal: Principal, what: str) -> None:
    if not policies.can_manage(principal):
        raise Forbidden(f"Only editors and admins {what} accounts.")


def _revenue(money: Money | None) -> tuple[Decimal | None, str | None]:
    if money is None:
        return None, None
    if money.currency not in ISO_4217:
        raise Invalid(
            f"'{money.currency}' is not an ISO 4217 currency code.",
            errors=[
                field_error("annual_revenue.currency", "not an ISO 4217 currency code", type_="currency")
            ],
        )
    return money.decimal(), money.currency


async def _refuse_taken(
    session: AsyncSession, *, key: str | None, name: str | None, other_than: uuid.UUID | None = None
) -> None:
    for found in await repository.by_key_or_name(session, key=key, name=name):
        if found.id == other_than:
            continue
        field, value = ("key", key) if found.key == key else ("name", name)
        raise Conflict(f"The account {found.key} ({found.id}) already has the {field} '{value}'.")


# --- reads --------------------------------------------------------------------------------------


async def list_accounts(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    segment: AccountSegment | None = None,
    include_merged: bool = False,
) -> Page[AccountRead]:
    """Lists accounts, oldest first (merged ones only when asked)."""
    _require_read(principal)
    page = await repository.list_accounts(
        session, params, segment=segment.value if segment else None, include_merged=include_merged
    )
    return Page(items=[to_read(a) for a in page.rows], next_cursor=page.next_cursor)


async def get_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> AccountRead:
    """Gets an account (a merged one names its survivor in `merged_into_id`)."""
    _require_read(principal)
    account = await repository.get(session, account_id)
    if account is None:
        raise NotFound("No such account.")
    return to_read(account)


async def accounts_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, AccountRead]:
    """Gets many accounts at once (for DataLoaders); nothing for callers who may not read them."""
    if not policies.can_read(principal):
        return {}
    return {key: to_read(a) for key, a in (await repository.by_ids(session, ids)).items()}


# --- writes -------------------------------------------------------------------------------------


@transactional
async def create_account(session: AsyncSession, principal: Principal, data: AccountCreate) -> AccountRead:
    """Creates an account (editors, admins); the key is derived from the name when omitted."""
    _require_manage(principal, "create")
    amount, currency = _revenue(data.annual_revenue)
    key = data.key or derived_key(data.name)
    await _refuse_taken(session, key=key, name=data.name)
    account = Account(
        key=key,
        name=data.name,
        segment=data.segment.value if data.segment else None,
        revenue_amount=amount,
        revenue_currency=currency,
    )
    session.add(account)
    with conflict_on_duplicate(f"An account with the key '{key}' or the name '{data.name}' exists."):
        await session.flush()
    return to_read(account)


@transactional
async def update_account(
    session: AsyncSession,
    principal: Principal,
    account_id: uuid.UUID,
    data: AccountUpdate,
    *,
    if_match: str | None = None,
) -> AccountRead:
    """Changes an account's key, name, segment or revenue (editors, admins); honours If-Match."""
    _require_manage(principal, "change")
    account = await repository.get_for_update(session, account_id)
    if account is None:
        raise NotFound("No such account.")
    check_if_match(if_match, etag(account.revision), required=False)
    if account.merged_into_id is not None:
        raise Conflict(f"This account was merged into {account.merged_into_id}: change the survivor instead.")
    changes = data.model_dump(exclude_unset=True)
    for field in ("key", "name"):
        if field in changes and changes[field] is None:
            raise Invalid(f"{field} cannot be null.", errors=[field_error(field, "cannot be null")])
    values: dict[str, Any] = {}
    if "key" in changes:
        values["key"] = data.key
    if "name" in changes:
        values["name"] = data.name
    if "segment" in changes:
        values["segment"] = data.segment.value if data.segment else None
    if "annual_revenue" in changes:
        values["revenue_amount"], values["revenue_currency"] = _revenue(data.annual_revenue)
    changed = {name: value for name, value in values.items() if getattr(account, name) != value}
    if changed:
        await _refuse_taken(session, key=changed.get("key"), name=changed.get("name"), other_than=account.id)
        for name, value in changed.items():
            setattr(account, name, value)
        account.revision += 1
        account.updated_at = utcnow()
        with conflict_on_duplicate("Another account took this key or name meanwhile."):
            await session.flush()
    return to_read(account)


@transactional
async def merge_account(
    session: AsyncSession, principal: Principal, account_id: uuid.UUID, data: AccountMerge
) -> AccountRead:
    """Merges an account into another (the same customer) and returns the survivor.

    The merged account stays, pointing at the survivor (`merged_into_id`): its key and name
    still match feedback, which lands on the survivor. Its feedback, and that of accounts
    merged into it before, moves to the survivor in this transaction. Into itself → 422;
    from or into a merged account → 409.
    """
    _require_manage(principal, "merge")
    if data.into == account_id:
        raise Invalid(
            "An account cannot be merged into itself.",
            errors=[field_error("into", "must be another account than the one merged")],
        )
    locked = await repository.lock(session, (account_id, data.into))
    source, target = locked.get(account_id), locked.get(data.into)
    if source is None:
        raise NotFound("No such account.")
    if target is None:
        raise Invalid("No account to merge into.", errors=[field_error("into", "no such account")])
    if source.merged_into_id is not None:
        raise Conflict(f"This account was already merged into {source.merged_into_id}.")
    if target.merged_into_id is not None:
        raise Conflict(
            f"Account {target.id} was merged into {target.merged_into_id}: merge into the survivor instead."
        )
    now = utcnow()
    absorbed = await repository.absorbed_by(session, source.id)
    await repository.repoint(session, absorbed, target.id, now)
    source.merged_into_id = target.id
    for account in (source, target):
        account.revision += 1
        account.updated_at = now
    await session.flush()
    await hooks.accounts_merged(session, [source.id, *absorbed], target.id)
    return to_read(target)


# --- matching (for the feedback hub's ingest) ---------------------------------------------------


async def match_or_create(
    session: AsyncSession,
    principal: Principal,
    named: dict[str, str | None],
) -> dict[str, uuid.UUID]:
    """The account each of these customer names stands for, creating the unknown ones.

    `named` maps what feedback sent as `customer.account` to its `customer.segment` (free text).
    A value matches an account whose key is that value, else one whose name is exactly it
    (the oldest); a merged account resolves to its survivor. The rest become new accounts
    named so, keyed by `keys.derived_key`, with the segment when it reads as one of the set.
    Set-based: one query for every value, one INSERT for the new ones (and one more read only
    if another transaction created some of them meanwhile). The filer needs no right over
    accounts: naming a customer is part of filing what they said.
    """
    if not named:
        return {}
    values = list(named)
    found = await repository.by_keys_or_names(session, values)
    resolved = _resolve(values, found)
    missing = [value for value in values if value not in resolved]
    if missing:
        now = utcnow()
        rows = [
            {
                "id": uuid.uuid4(),
                "created_at": now,
                "updated_at": now,
                "revision": 1,
                "key": derived_key(value),
                "name": value,
                "segment": (segment.value if (segment := segment_of(named[value])) else None),
                "revenue_amount": None,
                "revenue_currency": None,
                "merged_into_id": None,
            }
            for value in missing
        ]
        await repository.insert_new(session, rows)
        # Read back by name: rows this statement wrote and rows a concurrent one wrote alike.
        again = await repository.by_keys_or_names(session, missing)
        resolved.update(_resolve(missing, again))
    return resolved


def _resolve(values: Sequence[str], found: Sequence[repository.Known]) -> dict[str, uuid.UUID]:
    """The survivor each value names among `found` (oldest first): the set-based form of
    `repository.matching`, the one rule (see there)."""
    by_key = {a.key: a.survivor for a in found}
    by_name: dict[str, uuid.UUID] = {}
    for account in found:  # oldest first: the first of a name wins
        by_name.setdefault(account.name, account.survivor)
    resolved = {}
    for value in values:
        match = by_key.get(value) or by_name.get(value)
        if match is not None:
            resolved[value] = match
    return resolved
