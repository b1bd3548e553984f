"""GraphQL for the current pitch: the same stored, cached document CRMs read over REST."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from service.api.graphql import Context, validate_input
from service.briefs.graphql import DifferentiatorType, GutCheckType, PainType
from service.briefs.schemas import Differentiator, GutCheck, Pain
from service.evidence.graphql import EvidenceKind, FreshnessType
from service.messages.graphql import MessageKind, MetricType
from service.messages.schemas import MetricRead
from service.pitch import service as pitch_service
from service.pitch.schemas import PitchEvidence, PitchMessage, PitchRead, PitchRequest


@strawberry.type(name="PitchEvidence")
class PitchEvidenceType:
    id: strawberry.ID
    kind: EvidenceKind
    claim: str
    source: str
    verify_by: dt.date | None

    @classmethod
    def from_model(cls, e: PitchEvidence) -> PitchEvidenceType:
        return cls(
            id=strawberry.ID(str(e.id)),
            kind=EvidenceKind(e.kind),
            claim=e.claim,
            source=e.source,
            verify_by=e.verify_by,
        )


@strawberry.type(name="PitchMessage")
class PitchMessageType:
    id: strawberry.ID
    kind: MessageKind
    title: str
    body: str
    audiences: list[str]
    channel: str
    feature_term: str | None
    value_statement: str | None
    metric: MetricType | None
    evidence: list[PitchEvidenceType]

    @classmethod
    def from_model(cls, m: PitchMessage) -> PitchMessageType:
        return cls(
            id=strawberry.ID(str(m.id)),
            kind=MessageKind(m.kind),
            title=m.title,
            body=m.body,
            audiences=list(m.audiences),
            channel=m.channel,
            feature_term=m.feature_term,
            value_statement=m.value_statement,
            metric=MetricType.from_model(MetricRead.model_validate(m.metric)) if m.metric else None,
            evidence=[PitchEvidenceType.from_model(e) for e in m.evidence],
        )


@strawberry.type(
    name="CurrentPitch",
    description="The published brief's story for one product and locale, ready to show next to a deal.",
)
class CurrentPitchType:
    product_key: str
    product_name: str
    locale: str
    brief_id: strawberry.ID
    version: int
    published_at: dt.datetime
    title: str
    pitch: str
    value_proposition: str
    target_customer: str
    customer_next_action: str
    pains: list[PainType]
    differentiators: list[DifferentiatorType] = strawberry.field(
        description="Those against the given `competitor` first."
    )
    gut_check: GutCheckType
    evidence: list[PitchEvidenceType] = strawberry.field(
        description="Items about the given `segment` or `competitor` first."
    )
    value_translations: list[PitchMessageType]
    key_messages: list[PitchMessageType] = strawberry.field(description="For the given `audience` (and all).")
    talking_points: list[PitchMessageType] = strawberry.field(
        description="For the given `audience` (and all)."
    )
    faq: list[PitchMessageType]
    audience: str | None
    freshness: FreshnessType
    etag: str = strawberry.field(description="Changes whenever what this pitch shows changes.")

    @classmethod
    def from_model(cls, p: PitchRead, etag: str) -> CurrentPitchType:
        return cls(
            product_key=p.product_key,
            product_name=p.product_name,
            locale=p.locale,
            brief_id=strawberry.ID(str(p.brief_id)),
            version=p.version,
            published_at=p.published_at,
            title=p.title,
            pitch=p.pitch,
            value_proposition=p.value_proposition,
            target_customer=p.target_customer,
            customer_next_action=p.customer_next_action,
            # Stored as the brief wrote them (validated then); shaped here like the brief's own.
            pains=[PainType.from_model(Pain.model_validate(x)) for x in p.pains],
            differentiators=[
                DifferentiatorType.from_model(Differentiator.model_validate(x)) for x in p.differentiators
            ],
            gut_check=GutCheckType.from_model(GutCheck.model_validate(p.gut_check)),
            evidence=[PitchEvidenceType.from_model(e) for e in p.evidence],
            value_translations=[PitchMessageType.from_model(m) for m in p.value_translations],
            key_messages=[PitchMessageType.from_model(m) for m in p.key_messages],
            talking_points=[PitchMessageType.from_model(m) for m in p.talking_points],
            faq=[PitchMessageType.from_model(m) for m in p.faq],
            audience=p.audience,
            freshness=FreshnessType.from_model(p.freshness),
            etag=etag,
        )


@strawberry.type
class PitchQuery:
    @strawberry.field(
        description="The current pitch for a product: the published brief, its evidence and the key "
        "messages for an audience; `segment` and `competitor` put the matching items first."
    )
    async def current_pitch(
        self,
        info: Info[Context, None],
        product_key: str,
        locale: str | None = None,
        audience: Annotated[str | None, strawberry.argument(description="A department key.")] = None,
        segment: str | None = None,
        competitor: str | None = None,
    ) -> CurrentPitchType:
        principal = info.context.principal  # authenticate before validating, as REST does
        args = validate_input(
            PitchRequest,
            {
                "product_key": product_key,
                "locale": locale,
                "audience": audience,
                "segment": segment,
                "competitor": competitor,
            },
        )
        rendered = await pitch_service.current_pitch(
            info.context.sessionmaker,
            principal,
            cache=info.context.pitch_cache,
            product_key=args.product_key,
            locale=args.locale,
            audience=args.audience,
            segment=args.segment,
            competitor=args.competitor,
            media="json",
        )
        return CurrentPitchType.from_model(PitchRead.model_validate_json(rendered.body), rendered.etag)
