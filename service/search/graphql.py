"""GraphQL: the `search` query, the same service call as GET /api/v1/search."""

from __future__ import annotations

import strawberry

from service import graphql_kit as gql
from service.search import service as search_service
from service.search.schemas import SearchHit


@gql.view(SearchHit, name="SearchHit")
class SearchHitType:
    """A document matching a search: `highlights` are [start, end) offsets into `snippet`."""

    type: str
    highlights: list[list[int]]


@strawberry.type
class SearchQuery:
    search = gql.query(
        search_service.search,
        "What the caller may read, best match first.",
        q=str,
        types=(list[str] | None, None),
        product_key=(str | None, None),
        locale=(str | None, None),
    )
