"""REST adapter for the live streams (Server-Sent Events)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from starlette.responses import StreamingResponse

from service.auth.dependencies import PrincipalDep
from service.events.hub import hub_for
from service.fields import Slug
from service.streams import service as streams_service

router = APIRouter(prefix="/api/v1", tags=["streams"])


class EventStream(StreamingResponse):
    """`text/event-stream`, never stored or buffered on the way (proxies included)."""

    media_type = "text/event-stream"

    def __init__(self, content: Any) -> None:
        super().__init__(content, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        description=(
            "The `id` of the last event received: the stream resumes after it, with no gap and "
            "no duplicate. One it cannot resume from (older than the events kept, see "
            "`CUECARD_EVENT_RETENTION_HOURS`, or not one it sent) gets `event: reset` first."
        ),
    ),
]
_FRAMES = (
    "Frames: `retry: <ms>` first; per event `id: <seq>`, `event: <type>`, `data: <envelope JSON>` "
    "(docs/events.md); `event: reset` when Last-Event-ID cannot be resumed; a `: keep-alive` "
    "comment when idle. The stream ends after `CUECARD_SSE_MAX_STREAM_SECONDS`: reconnect with "
    "Last-Event-ID. Authenticate with the Authorization header (never a query parameter): "
    "browsers read it with fetch, as EventSource cannot send headers (docs/events.md)."
)
_STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}
}


@router.get(
    "/me/events",
    response_class=EventStream,
    status_code=200,
    response_description="An endless `text/event-stream`.",
    responses=_STREAM_RESPONSE,
    description=f"Your live events (people only): what your feed is about. {_FRAMES}",
)
async def my_events(
    request: Request, principal: PrincipalDep, last_event_id: LastEventId = None
) -> EventStream:
    """Your events, live: campaign steps due for you, your acknowledgements and checks, the
    pitch, briefs and messages of the products your campaigns are about, your feedback moving on."""
    app = request.app
    return EventStream(
        await streams_service.person_stream(hub_for(app), app.state.settings, principal, last_event_id)
    )


@router.get(
    "/pitch/{product_key}/events",
    response_class=EventStream,
    status_code=200,
    response_description="An endless `text/event-stream`.",
    responses=_STREAM_RESPONSE,
    description=f"`pitch.changed` of one product, live (whoever may read its pitch). {_FRAMES}",
)
async def pitch_events(
    request: Request, product_key: Slug, principal: PrincipalDep, last_event_id: LastEventId = None
) -> EventStream:
    """The product's pitch changes, live."""
    app = request.app
    return EventStream(
        await streams_service.pitch_stream(
            hub_for(app), app.state.settings, principal, product_key, last_event_id
        )
    )
