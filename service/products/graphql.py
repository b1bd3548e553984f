"""GraphQL types, queries and mutations for products."""

from __future__ import annotations

import strawberry

from service.graphql_kit import etag_field, input_type, listing, mutation, query, view
from service.products import service as products_service
from service.products.schemas import ProductCreate, ProductRead


@view(ProductRead, name="Product", exclude={"updated_at", "revision"})
class ProductType:
    etag: str = etag_field()


ProductInput = input_type(ProductCreate, "ProductInput")


@strawberry.type
class ProductQuery:
    products = listing(products_service.list_products)
    product = query(products_service.get_product, key=str)


@strawberry.type
class ProductMutation:
    create_product = mutation(products_service.create_product, input=ProductInput)
