"""GraphQL types, queries and mutations for evidence items (claims that can go stale)."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry
from strawberry.types import Info

from service.api.graphql import Connection, Context, page_args, to_uuid, validate_input
from service.concurrency import etag
from service.evidence import service as evidence_service
from service.evidence.schemas import EvidenceCreate, EvidenceRead, EvidenceVerify, Freshness


@strawberry.enum
class EvidenceKind(Enum):
    METRIC = "metric"
    CASE = "case"
    QUOTE = "quote"
    SMALL_WIN = "small_win"


@strawberry.enum
class FreshnessStatus(Enum):
    FRESH = "fresh"
    STALE = "stale"


@strawberry.type(name="Freshness", description="`STALE` while any cited evidence is past its verify-by date.")
class FreshnessType:
    status: FreshnessStatus
    expired: list[strawberry.ID] = strawberry.field(description="The ids of the expired evidence items.")

    @classmethod
    def from_model(cls, f: Freshness) -> FreshnessType:
        return cls(status=FreshnessStatus(f.status), expired=[strawberry.ID(str(i)) for i in f.expired])


@strawberry.type(name="Evidence", description="A claim with an owner and a verify-by date.")
class EvidenceType:
    id: strawberry.ID
    kind: EvidenceKind
    claim: str
    source: str
    owner_id: strawberry.ID | None
    verify_by: dt.date | None
    verified_at: dt.datetime | None
    expired: bool = strawberry.field(description="Past its verify-by date and not re-verified.")
    replaced_by_id: strawberry.ID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    etag: str = strawberry.field(description="The ETag: pass it as `ifMatch` to refuse stale writes.")

    @classmethod
    def from_model(cls, e: EvidenceRead) -> EvidenceType:
        return cls(
            id=strawberry.ID(str(e.id)),
            kind=EvidenceKind(e.kind),
            claim=e.claim,
            source=e.source,
            owner_id=strawberry.ID(str(e.owner_id)) if e.owner_id else None,
            verify_by=e.verify_by,
            verified_at=e.verified_at,
            expired=e.expired,
            replaced_by_id=strawberry.ID(str(e.replaced_by_id)) if e.replaced_by_id else None,
            created_at=e.created_at,
            updated_at=e.updated_at,
            etag=etag(e.revision),
        )


@strawberry.input
class EvidenceInput:
    kind: EvidenceKind
    claim: str
    source: str
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
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        expired: bool | None = None,
    ) -> Connection[EvidenceType]:
        async with info.context.session() as session:
            page = await evidence_service.list_evidence(
                session, info.context.principal, page_args(first, after), expired=expired
            )
        return Connection.from_page(page, EvidenceType.from_model)

    @strawberry.field(description="One evidence item.")
    async def evidence_item(self, info: Info[Context, None], id: strawberry.ID) -> EvidenceType:
        async with info.context.session() as session:
            item = await evidence_service.get_evidence(session, info.context.principal, to_uuid(id))
        return EvidenceType.from_model(item)


@strawberry.type
class EvidenceMutation:
    @strawberry.mutation(description="Record a claim: a metric, a customer case, a quote or a small win.")
    async def create_evidence(self, info: Info[Context, None], input: EvidenceInput) -> EvidenceType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(EvidenceCreate, input)
        async with info.context.session() as session:
            return EvidenceType.from_model(await evidence_service.create_evidence(session, principal, data))

    @strawberry.mutation(
        description="Re-verify a claim (owner, editors, admins); `verifyBy` defaults to 90 days from today."
    )
    async def verify_evidence(
        self, info: Info[Context, None], id: strawberry.ID, verify_by: dt.date | None = None
    ) -> EvidenceType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(EvidenceVerify, {"verify_by": verify_by})
        async with info.context.session() as session:
            item = await evidence_service.verify_evidence(session, principal, to_uuid(id), data)
        return EvidenceType.from_model(item)

    @strawberry.mutation(
        description="Replace a claim with a new item; everything citing the old one cites the new one."
    )
    async def replace_evidence(
        self, info: Info[Context, None], id: strawberry.ID, input: EvidenceInput
    ) -> EvidenceType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(EvidenceCreate, input)
        async with info.context.session() as session:
            item = await evidence_service.replace_evidence(session, principal, to_uuid(id), data)
        return EvidenceType.from_model(item)
