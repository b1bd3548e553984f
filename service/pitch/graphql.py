"""GraphQL for the current pitch: the same stored, cached document CRMs read over REST."""

from __future__ import annotations

from typing import Annotated

import strawberry

from service import graphql_kit as gql
from service.briefs.graphql import DifferentiatorType
from service.briefs.schemas import Differentiator, GutCheck, Pain
from service.evidence.schemas import EvidenceKind  # strawberry.enum registered it in place
from service.messages.schemas import MessageKind, MetricRead
from service.pitch import service as pitch_service
from service.pitch.schemas import (
    PitchEvidence,
    PitchFix,
    PitchFixMessage,
    PitchFixTheme,
    PitchMessage,
    PitchRead,
    PitchRequest,
)


class _PitchMessage(PitchMessage):
    kind: MessageKind  # a str subclass: the stored value re-read as its member
    metric: MetricRead | None = None  # type: ignore[assignment]  # the stored JSON re-read as the messages' typed parts


class _Pitch(PitchRead):
    """The stored document with the brief's parts shaped as the brief's own types, and its ETag."""

    pains: list[Pain]  # type: ignore[assignment]  # the stored JSON re-read as the brief's typed parts
    differentiators: list[Differentiator]  # type: ignore[assignment]  # the stored JSON re-read as the brief's typed parts
    gut_check: GutCheck  # type: ignore[assignment]  # the stored JSON re-read as the brief's typed parts
    value_translations: list[_PitchMessage]  # type: ignore[assignment]  # the stored JSON re-read as the brief's typed parts
    key_messages: list[_PitchMessage]  # type: ignore[assignment]  # the stored JSON re-read as the brief's typed parts
    talking_points: list[_PitchMessage]  # type: ignore[assignment]  # the stored JSON re-read as the brief's typed parts
    faq: list[_PitchMessage]  # type: ignore[assignment]  # the stored JSON re-read as the brief's typed parts
    etag: str = ""


@gql.view(PitchEvidence, name="PitchEvidence")
class PitchEvidenceType:
    kind: EvidenceKind


PitchFixThemeType = gql.view_type(PitchFixTheme, name="PitchFixTheme")
PitchFixMessageType = gql.view_type(PitchFixMessage, name="PitchFixMessage")
PitchFixType = gql.view_type(PitchFix, name="PitchFix")


PitchMessageType = gql.view_type(_PitchMessage, "PitchMessage")


@gql.view(_Pitch, name="CurrentPitch")
class CurrentPitchType:
    """The published brief's story for one product and locale, ready to show next to a deal."""

    differentiators: list[DifferentiatorType] = strawberry.field(
        description="Those against the given `competitor` first."
    )
    evidence: list[PitchEvidenceType] = strawberry.field(
        description="Items about the given `segment` or `competitor` first."
    )
    key_messages: list[PitchMessageType] = strawberry.field(description="For the given `audience` (and all).")
    talking_points: list[PitchMessageType] = strawberry.field(
        description="For the given `audience` (and all)."
    )
    etag: str = strawberry.field(description="Changes whenever what this pitch shows changes.")


@strawberry.type
class PitchQuery:
    @strawberry.field(
        description="The current pitch for a product: the published brief, its evidence and the key "
        "messages for an audience; `segment` and `competitor` put the matching items first."
    )
    async def current_pitch(
        self,
        info: gql.Info,
        product_key: str,
        locale: str | None = None,
        audience: Annotated[str | None, strawberry.argument(description="A department key.")] = None,
        segment: str | None = None,
        competitor: str | None = None,
        account: Annotated[
            str | None,
            strawberry.argument(
                description="The deal's account key (or exact name): `fixedForAccount` then lists "
                "what was fixed for it."
            ),
        ] = None,
    ) -> CurrentPitchType:
        asked = dict(
            product_key=product_key,
            locale=locale,
            audience=audience,
            segment=segment,
            competitor=competitor,
            account=account,
        )
        args = gql.parse(info, PitchRequest, asked)
        context = info.context
        rendered = await pitch_service.current_pitch(
            context.sessionmaker,
            context.principal,
            cache=context.pitch_cache,
            media="json",
            **args.model_dump(),
        )
        pitch = _Pitch.model_validate_json(rendered.body)
        pitch.etag = rendered.etag
        return pitch  # type: ignore[return-value]  # the view type reads this model's fields
