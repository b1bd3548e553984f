"""Search results as callers see them."""

from __future__ import annotations

import base64
import json
import uuid
from enum import StrEnum

from pydantic import BaseModel, Field


class DocType(StrEnum):
    """What a search result is."""

    BRIEF = "brief"
    MESSAGE = "message"
    EVIDENCE = "evidence"
    FEEDBACK = "feedback"
    THEME = "theme"


class SearchHit(BaseModel):
    """A document matching a search."""

    type: DocType
    id: uuid.UUID
    title: str
    snippet: str = Field(description="A window of the document's text around its first match.")
    highlights: list[list[int]] = Field(
        description="[start, end) offsets into `snippet`, in Unicode code points, of the query's matches."
    )
    score: float = Field(description="Relevance: higher first; equal on PostgreSQL and SQLite.")

    def edge_cursor(self) -> str:
        """The cursor after this hit (see service.search.service.SearchCursor)."""
        raw = json.dumps([self.score, self.type.value, str(self.id)], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
