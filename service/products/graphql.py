"""GraphQL types, queries and mutations for products."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from service.api.graphql import Connection, Context, page_args, validate_input
from service.concurrency import etag
from service.products import service as products_service
from service.products.schemas import ProductCreate, ProductRead


@strawberry.type(name="Product")
class ProductType:
    id: strawberry.ID
    key: str
    name: str
    description: str | None
    is_company: bool
    created_at: dt.datetime
    etag: str = strawberry.field(description="The ETag: pass it as `ifMatch` to refuse stale writes.")

    @classmethod
    def from_model(cls, p: ProductRead) -> ProductType:
        return cls(
            id=strawberry.ID(str(p.id)),
            key=p.key,
            name=p.name,
            description=p.description,
            is_company=p.is_company,
            created_at=p.created_at,
            etag=etag(p.revision),
        )


@strawberry.input
class ProductInput:
    key: str
    name: str
    description: str | None = None
    is_company: bool = False


@strawberry.type
class ProductQuery:
    @strawberry.field
    async def products(
        self, info: Info[Context, None], first: int = 50, after: str | None = None
    ) -> Connection[ProductType]:
        async with info.context.session() as session:
            page = await products_service.list_products(
                session, info.context.principal, page_args(first, after)
            )
        return Connection.from_page(page, ProductType.from_model)

    @strawberry.field
    async def product(self, info: Info[Context, None], key: str) -> ProductType:
        async with info.context.session() as session:
            return ProductType.from_model(
                await products_service.get_product(session, info.context.principal, key)
            )


@strawberry.type
class ProductMutation:
    @strawberry.mutation
    async def create_product(self, info: Info[Context, None], input: ProductInput) -> ProductType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(ProductCreate, input)
        async with info.context.session() as session:
            return ProductType.from_model(await products_service.create_product(session, principal, data))
