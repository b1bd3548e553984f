"""The named per-request DataLoaders campaigns and feedback use until they call
`service.graphql_kit.load` (the same loaders: one per batch function and request)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

from service.briefs import service as briefs_service
from service.campaigns import service as campaigns_service
from service.evidence import service as evidence_service
from service.feedback import service as feedback_service
from service.feedback import themes as themes_service
from service.messages import service as messages_service
from service.people import service as people_service
from service.products import service as products_service

if TYPE_CHECKING:
    from service.graphql_kit import Context


class Loaders:
    def __init__(self, context: Context) -> None:
        self.context = context

    @cached_property
    def department(self) -> DataLoader[Any, Any]:
        return self.context.loader(people_service.departments_by_ids)

    @cached_property
    def person(self) -> DataLoader[Any, Any]:
        return self.context.loader(people_service.people_by_ids)

    @cached_property
    def product(self) -> DataLoader[Any, Any]:
        return self.context.loader(products_service.products_by_ids)

    @cached_property
    def brief(self) -> DataLoader[Any, Any]:
        return self.context.loader(briefs_service.briefs_by_ids)

    @cached_property
    def brief_versions(self) -> DataLoader[Any, Any]:
        return self.context.loader(briefs_service.versions_by_lineage, missing=list)

    @cached_property
    def brief_messages(self) -> DataLoader[Any, Any]:
        return self.context.loader(messages_service.messages_by_lineage, missing=list)

    @cached_property
    def evidence(self) -> DataLoader[Any, Any]:
        return self.context.loader(evidence_service.evidence_by_ids)

    @cached_property
    def theme(self) -> DataLoader[Any, Any]:
        return self.context.loader(themes_service.themes_by_ids)

    @cached_property
    def feedback_item(self) -> DataLoader[Any, Any]:
        return self.context.loader(feedback_service.feedback_by_ids)

    @cached_property
    def feedback_transitions(self) -> DataLoader[Any, Any]:
        return self.context.loader(feedback_service.transitions_by_feedback_ids, missing=list)

    @cached_property
    def campaign(self) -> DataLoader[Any, Any]:
        return self.context.loader(campaigns_service.campaigns_by_ids)
