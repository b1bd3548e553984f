"""Every table, imported in one place so Alembic and the tests see the whole metadata."""

from service.clients.models import ServiceClient
from service.idempotency.models import IdempotencyRecord
from service.people.models import Department, Person
from service.products.models import Product

__all__ = ["Department", "IdempotencyRecord", "Person", "Product", "ServiceClient"]
