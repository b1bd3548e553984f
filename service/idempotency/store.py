"""Idempotency-Key records: claim a key, replay its first response, or refuse a misuse.

The store keeps its own small use cases, in sessions of their own, separate from the request's
use case: a claimed key is visible to a concurrent duplicate (409) before the work commits.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, delete, select, update

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

from service.db import use_case, utcnow
from service.errors import Conflict, Invalid, field_error
from service.idempotency.models import IdempotencyRecord

PURGE_ONE_IN = 100


async def _find(session: AsyncSession, owner: str, key: str) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(IdempotencyRecord.owner == owner, IdempotencyRecord.key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


def _judge_request(record: IdempotencyRecord, endpoint: str, request_hash: str) -> None:
    if record.endpoint != endpoint or record.request_hash != request_hash:
        raise Invalid(
            "This Idempotency-Key was used with a different request.",
            errors=[field_error("Idempotency-Key", "reused with another body", location="header")],
        )


def _judge(record: IdempotencyRecord, endpoint: str, request_hash: str) -> IdempotencyRecord:
    _judge_request(record, endpoint, request_hash)
    if not record.completed:
        raise Conflict(
            "A request with this Idempotency-Key is still in progress; retry later.",
            headers={"Retry-After": "1"},
        )
    return record


async def _take_over(session: AsyncSession, record: IdempotencyRecord, lease: timedelta) -> bool:
    """Takes over a claim left in progress past its lease (its request died with the database,
    so it could not release the key): else a retry would get 409 until the key expired.
    Compare-and-set on the claim time, so of two retries only one takes it."""
    now = utcnow()
    if record.completed or record.created_at > now - lease:
        return False
    taken = await session.execute(
        update(IdempotencyRecord)
        .where(
            col(IdempotencyRecord.id) == record.id,
            col(IdempotencyRecord.completed).is_(False),
            col(IdempotencyRecord.created_at) == record.created_at,
        )
        .values(created_at=now)
    )
    return cast("CursorResult[Any]", taken).rowcount == 1  # an UPDATE's result is a cursor result


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    owner: str,
    key: str,
    endpoint: str,
    request_hash: str,
    ttl: timedelta,
    lease: timedelta,
) -> IdempotencyRecord | None:
    """Claims the key for this request (None: go ahead), or returns the completed record to replay.

    A claim still in progress after `lease` is taken over by the next identical request."""
    async with sessionmaker() as session:
        try:
            async with use_case(session):
                if secrets.randbelow(PURGE_ONE_IN) == 0:
                    # Now and then, forget expired keys (indexed on expires_at): no sweeper needed.
                    await session.execute(
                        delete(IdempotencyRecord).where(col(IdempotencyRecord.expires_at) <= utcnow())
                    )
                record = await _find(session, owner, key)
                if record is not None and record.expires_at <= utcnow():
                    await session.delete(record)
                    await session.flush()
                    record = None
                if record is not None:
                    _judge_request(record, endpoint, request_hash)
                    if await _take_over(session, record, lease):
                        return None
                    return _judge(record, endpoint, request_hash)
                now = utcnow()
                session.add(
                    IdempotencyRecord(
                        owner=owner,
                        key=key,
                        endpoint=endpoint,
                        request_hash=request_hash,
                        created_at=now,
                        expires_at=now + ttl,
                    )
                )
                await session.flush()
        except IntegrityError:  # claimed by a concurrent duplicate: its claim decides
            record = await _find(session, owner, key)
            if record is None:  # pragma: no cover - claimed and released in between
                raise Conflict("A request with this Idempotency-Key is in progress; retry.") from None
            return _judge(record, endpoint, request_hash)
    return None


async def complete(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    owner: str,
    key: str,
    status_code: int,
    body: bytes,
    headers: dict[str, str],
) -> None:
    """Stores the response a replay will return."""
    async with sessionmaker() as session, use_case(session):
        record = await _find(session, owner, key)
        if record is not None:
            record.completed = True
            record.status_code = status_code
            record.response_body = body
            record.response_headers = headers


async def release(sessionmaker: async_sessionmaker[AsyncSession], *, owner: str, key: str) -> None:
    """Forgets a claim whose request failed, so a retry can run it."""
    async with sessionmaker() as session, use_case(session):
        await session.execute(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.owner) == owner,
                col(IdempotencyRecord.key) == key,
                col(IdempotencyRecord.completed).is_(False),
            )
        )
