"""GraphQL types, queries and mutations for products."""

from __future__ import annotations

import strawberry

from service.graphql_kit import Connection, Info, etag_field, input_type, paged, parse, run, view
from service.products import service as products_service
from service.products.schemas import ProductCreate, ProductRead


@view(ProductRead, name="Product", exclude={"updated_at", "revision"})
class ProductType:
    etag: str = etag_field()


ProductInput = input_type(ProductCreate, "ProductInput")


@strawberry.type
class ProductQuery:
    @strawberry.field
    async def products(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[ProductType]:
        return await paged(info, products_service.list_products, first, after)

    @strawberry.field
    async def product(self, info: Info, key: str) -> ProductType:
        return await run(info, products_service.get_product, key)


@strawberry.type
class ProductMutation:
    @strawberry.mutation
    async def create_product(self, info: Info, input: ProductInput) -> ProductType:
        return await run(info, products_service.create_product, parse(info, ProductCreate, input))
