"""`GET /`: where to go from here — the docs, the contracts, GraphQL and the probes.

A browser (Accept: text/html) gets a small page of links; anything else (curl, scripts) gets
the same links as JSON. Both carry RFC 8631 `Link` headers to the docs and the OpenAPI
document. No script, no CDN: it works offline, like the docs pages it points to.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

router = APIRouter()


def _links(request: Request) -> list[tuple[str, str, str]]:
    """(key, path, what it is), GraphiQL only where it is served."""
    root = request.scope.get("root_path", "").rstrip("/")
    graphql = (
        "GraphQL: POST queries here; GraphiQL in a browser"
        if request.app.state.settings.graphiql_enabled
        else "GraphQL: POST queries here"
    )
    return [
        ("docs", f"{root}/docs", "REST API documentation (Swagger UI)"),
        ("openapi", f"{root}/openapi.json", "OpenAPI document, for generated clients"),
        ("graphql", f"{root}/graphql", graphql),
        ("health", f"{root}/healthz", "liveness probe"),
        ("ready", f"{root}/readyz", "readiness probe: database reachable and migrated"),
    ]


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.get("/", include_in_schema=False)
async def landing(request: Request) -> Response:
    links = _links(request)
    paths = {key: path for key, path, _ in links}
    headers = {
        "Link": f'<{paths["docs"]}>; rel="service-doc", <{paths["openapi"]}>; rel="service-desc"',
        "Vary": "Accept",
    }
    if not _wants_html(request):
        body = {
            "name": "CueCard API",
            "links": {key: {"href": path, "title": title} for key, path, title in links},
        }
        return JSONResponse(body, headers=headers)
    items = "\n".join(
        f'    <li><a href="{escape(path)}">{escape(path)}</a> — {escape(title)}</li>'
        for _, path, title in links
    )
    page = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>CueCard API</title></head>
<body>
  <h1>CueCard API</h1>
  <p>API-first internal marketing: REST under <code>/api/v1</code>, GraphQL at <code>/graphql</code>.</p>
  <ul>
{items}
  </ul>
</body>
</html>
"""
    return HTMLResponse(page, headers=headers)
