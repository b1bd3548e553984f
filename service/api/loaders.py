"""Per-request DataLoaders, created lazily; each batch opens its own session."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from service.auth.principal import Principal
from service.briefs import service as briefs_service
from service.campaigns import service as campaigns_service
from service.evidence import service as evidence_service
from service.feedback import service as feedback_service
from service.feedback import themes as themes_service
from service.messages import service as messages_service
from service.people import service as people_service
from service.products import service as products_service

if TYPE_CHECKING:
    from service.api.graphql import Context

ByIds = Callable[[AsyncSession, Principal, Iterable[uuid.UUID]], Awaitable[dict[uuid.UUID, Any]]]


def by_ids_loader(context: Context, fetch: ByIds, missing: Callable[[], Any] = lambda: None) -> DataLoader:
    """A loader over a service's `x_by_ids(session, principal, ids)`: one batch, one session;
    what the caller may not see comes back as `missing()` (None, or an empty list)."""

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with context.session() as session:
            found = await fetch(session, context.principal, ids)
        return [found[i] if i in found else missing() for i in ids]

    return DataLoader(load_fn=load)


class Loaders:
    """One DataLoader per batch function of the services, created on first use in a request."""

    def __init__(self, context: Context) -> None:
        self.context = context

    @cached_property
    def department(self) -> DataLoader:
        return by_ids_loader(self.context, people_service.departments_by_ids)

    @cached_property
    def person(self) -> DataLoader:
        return by_ids_loader(self.context, people_service.people_by_ids)

    @cached_property
    def product(self) -> DataLoader:
        return by_ids_loader(self.context, products_service.products_by_ids)

    @cached_property
    def brief(self) -> DataLoader:
        return by_ids_loader(self.context, briefs_service.briefs_by_ids)

    @cached_property
    def brief_versions(self) -> DataLoader:
        """Keyed by lineage id: every version of that brief the caller may see, oldest first."""
        return by_ids_loader(self.context, briefs_service.versions_by_lineage, missing=list)

    @cached_property
    def brief_messages(self) -> DataLoader:
        """Keyed by lineage id: the messages citing any version of that brief."""
        return by_ids_loader(self.context, messages_service.messages_by_lineage, missing=list)

    @cached_property
    def evidence(self) -> DataLoader:
        return by_ids_loader(self.context, evidence_service.evidence_by_ids)

    @cached_property
    def theme(self) -> DataLoader:
        return by_ids_loader(self.context, themes_service.themes_by_ids)

    @cached_property
    def feedback_item(self) -> DataLoader:
        return by_ids_loader(self.context, feedback_service.feedback_by_ids)

    @cached_property
    def feedback_transitions(self) -> DataLoader:
        return by_ids_loader(self.context, feedback_service.transitions_by_feedback_ids, missing=list)

    @cached_property
    def campaign(self) -> DataLoader:
        """Campaigns the caller may see (an employee: the ones they are or were in)."""
        return by_ids_loader(self.context, campaigns_service.campaigns_by_ids)
