"""GraphQL types, queries and mutations for evidence items (claims that can go stale)."""

from __future__ import annotations

import datetime as dt

import strawberry

from service.evidence import service as evidence_service
from service.evidence.schemas import (
    EvidenceCreate,
    EvidenceRead,
    EvidenceVerify,
    Freshness,
    FreshnessStatus,
)
from service.evidence.schemas import EvidenceKind as EvidenceKind  # re-exported once registered below
from service.graphql_kit import Connection, Info, etag_field, input_of, paged, parse, run, to_uuid, view

EvidenceKind = strawberry.enum(EvidenceKind, name="EvidenceKind")  # type: ignore[misc]  # registers the StrEnum in place and returns it
FreshnessStatus = strawberry.enum(FreshnessStatus, name="FreshnessStatus")  # type: ignore[misc]  # registers the StrEnum in place and returns it


@view(Freshness, name="Freshness", description="`STALE` while any cited evidence is past its verify-by date.")
class FreshnessType:
    expired: list[strawberry.ID] = strawberry.field(description="The ids of the expired evidence items.")


@view(
    EvidenceRead,
    name="Evidence",
    description="A claim with an owner and a verify-by date.",
    exclude={"revision"},
)
class EvidenceType:
    expired: bool = strawberry.field(description="Past its verify-by date and not re-verified.")
    etag: str = etag_field()


@input_of(EvidenceCreate, name="EvidenceInput")
class EvidenceInput:
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Who answers for the claim; default: the caller."
    )
    verify_by: dt.date | None = strawberry.field(
        default=None, description="The date by which the claim must be checked again."
    )


@strawberry.type
class EvidenceQuery:
    @strawberry.field(
        description="Evidence items, oldest first; `expired: true` lists the ones to re-verify."
    )
    async def evidence(
        self, info: Info, first: int = 50, after: str | None = None, expired: bool | None = None
    ) -> Connection[EvidenceType]:
        return await paged(info, evidence_service.list_evidence, first, after, expired=expired)

    @strawberry.field(description="One evidence item.")
    async def evidence_item(self, info: Info, id: strawberry.ID) -> EvidenceType:
        return await run(info, evidence_service.get_evidence, to_uuid(id))


@strawberry.type
class EvidenceMutation:
    @strawberry.mutation(description="Record a claim: a metric, a customer case, a quote or a small win.")
    async def create_evidence(self, info: Info, input: EvidenceInput) -> EvidenceType:
        return await run(info, evidence_service.create_evidence, parse(info, EvidenceCreate, input))

    @strawberry.mutation(
        description="Re-verify a claim (owner, editors, admins); `verifyBy` defaults to 90 days from today."
    )
    async def verify_evidence(
        self, info: Info, id: strawberry.ID, verify_by: dt.date | None = None
    ) -> EvidenceType:
        data = parse(info, EvidenceVerify, {"verify_by": verify_by})
        return await run(info, evidence_service.verify_evidence, to_uuid(id), data)

    @strawberry.mutation(
        description="Replace a claim with a new item; everything citing the old one cites the new one."
    )
    async def replace_evidence(self, info: Info, id: strawberry.ID, input: EvidenceInput) -> EvidenceType:
        data = parse(info, EvidenceCreate, input)
        return await run(info, evidence_service.replace_evidence, to_uuid(id), data)
