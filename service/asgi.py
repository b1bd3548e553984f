"""Entry point for ASGI servers: `uvicorn service.asgi:app` (what `cuecard serve` runs)."""

from service.main import create_app

app = create_app()
