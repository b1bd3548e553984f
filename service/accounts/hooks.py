"""What other domains do when two accounts turn out to be one, in the merge's own transaction.

Accounts sit below the feedback hub (ingest matches feedback to accounts, so feedback imports
accounts and never the other way round). Feedback registers a handler here that moves the
merged account's items to the survivor; `service.wiring.connect_domains` does it for every
entry point. A merge before anything was connected is refused: it would leave feedback behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

AccountsMerged = Callable[[AsyncSession, Sequence[uuid.UUID], uuid.UUID], Awaitable[None]]

_on_accounts_merged: list[AccountsMerged] = []


def on_accounts_merged(handler: AccountsMerged) -> None:
    """Runs `handler(session, merged_ids, into_id)` on every merge (once per handler); it joins
    the merge's transaction: flushes, never commits."""
    if handler not in _on_accounts_merged:
        _on_accounts_merged.append(handler)


async def accounts_merged(session: AsyncSession, merged: Sequence[uuid.UUID], into: uuid.UUID) -> None:
    """Tells every registered domain that `merged` accounts are now `into`."""
    if not _on_accounts_merged:
        raise RuntimeError("account hooks not connected: call service.wiring.connect_domains() at start-up")
    for handler in _on_accounts_merged:
        await handler(session, merged, into)
