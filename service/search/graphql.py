"""GraphQL: `search`, the same service call as GET /api/v1/search."""

from __future__ import annotations

import strawberry

from service import graphql_kit as gql
from service.search import service as search_service
from service.search.schemas import SearchHit

gql.view_type(SearchHit, "SearchHit")


@strawberry.type
class SearchQuery:
    search = gql.query(
        search_service.search,
        "What the caller may read, best match first.",
        q=str,
        types=list[str] | None,
        product_key=str | None,
        locale=str | None,
    )
