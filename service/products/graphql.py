"""GraphQL types, queries and mutations for products."""

from __future__ import annotations

import strawberry

from service import graphql_kit as gql
from service.products import service as products_service
from service.products.schemas import ProductCreate, ProductRead

ProductType = gql.view_type(
    ProductRead, "Product", exclude={"updated_at"}, by_id=products_service.products_by_ids
)
ProductInput = gql.input_type(ProductCreate, "ProductInput")


@strawberry.type
class ProductRoot:
    products = gql.query(products_service.list_products)
    product = gql.query(products_service.get_product)
    create_product = gql.mutation(products_service.create_product)
