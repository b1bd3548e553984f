"""Per-request DataLoaders, created lazily; each batch opens its own session."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from service.briefs import loaders as briefs_loaders
from service.messages import loaders as messages_loaders
from service.people import loaders as people_loaders
from service.products import loaders as products_loaders

if TYPE_CHECKING:
    from service.api.graphql import Context


class Loaders:
    def __init__(self, context: Context) -> None:
        self.context = context

    @cached_property
    def department(self) -> DataLoader:
        return people_loaders.department_loader(self.context)

    @cached_property
    def person(self) -> DataLoader:
        return people_loaders.person_loader(self.context)

    @cached_property
    def brief(self) -> DataLoader:
        return briefs_loaders.brief_loader(self.context)

    @cached_property
    def brief_versions(self) -> DataLoader:
        return briefs_loaders.versions_loader(self.context)

    @cached_property
    def product(self) -> DataLoader:
        return products_loaders.product_loader(self.context)

    @cached_property
    def brief_messages(self) -> DataLoader:
        return messages_loaders.by_lineage_loader(self.context)

    @cached_property
    def evidence(self) -> DataLoader:
        return messages_loaders.evidence_loader(self.context)
