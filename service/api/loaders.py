"""Per-request DataLoaders, created lazily; each batch opens its own session."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from service.people import loaders as people_loaders

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
