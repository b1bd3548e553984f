"""REST adapter for products."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.api.idempotency import IdempotencyKey, idempotent
from service.api.rest import NOT_MODIFIED, PageDep, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.concurrency import etag
from service.db import SessionDep
from service.fields import Slug
from service.pagination import Page
from service.products import service as products_service
from service.products.schemas import ProductCreate, ProductRead

router = APIRouter(prefix="/api/v1", tags=["products"])


@router.get("/products", response_model=Page[ProductRead])
async def list_products(
    request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    """List products."""
    return page_response(request, await products_service.list_products(session, principal, page))


@router.post("/products", status_code=201, response_model=ProductRead)
async def create_product(
    request: Request,
    body: ProductCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a product (admin). `key` is a URL-safe slug, unique."""

    async def produce() -> Response:
        product = await products_service.create_product(session, principal, body)
        return resource_response(
            request,
            product,
            etag(product.revision),
            status_code=201,
            location=f"/api/v1/products/{product.key}",
        )

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("/products/{product_key}", response_model=ProductRead, responses=NOT_MODIFIED)
async def get_product(
    request: Request, product_key: Slug, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Get a product by key."""
    product = await products_service.get_product(session, principal, product_key)
    return resource_response(request, product, etag(product.revision))
