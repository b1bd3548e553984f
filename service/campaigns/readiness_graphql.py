"""GraphQL for readiness: per campaign, and per product across the organisation (readiness.py)."""

from __future__ import annotations

import strawberry

from service.campaigns import readiness as readiness_service
from service.campaigns.graphql import CampaignType, campaign
from service.campaigns.schemas import (
    CampaignReadiness,
    DepartmentReadiness,
    DepartmentShare,
    OrganisationReadiness,
    ProductReadiness,
)
from service.graphql_kit import Info, run, to_uuid, view


@view(DepartmentReadiness, name="DepartmentReadiness")
class DepartmentReadinessType:
    department: str | None = strawberry.field(description="Department key; null for people without one.")
    department_name: str | None
    audience: int
    acknowledged: int
    passed: int
    overdue: int


@view(
    CampaignReadiness,
    name="CampaignReadiness",
    description="Of the active people in the audience: who acknowledged the current brief version (or a "
    "minor fix of it), who passed its check, and who is overdue (last step past, not passed).",
)
class CampaignReadinessType:
    campaign_id: strawberry.ID
    brief_id: strawberry.ID | None = strawberry.field(description="The current (published) brief version.")
    version: int | None
    basis_version: int | None = strawberry.field(
        description="The last substantive version: acknowledgements and checks from it on count."
    )
    audience: int
    acknowledged: int
    passed: int
    overdue: int
    departments: list[DepartmentReadinessType]
    campaign: CampaignType | None = strawberry.field(resolver=campaign)


@view(DepartmentShare, name="DepartmentShare")
class DepartmentShareType:
    department: str | None
    department_name: str | None
    audience: int
    passed: int
    share: float | None = strawberry.field(description="passed / audience; null for an empty audience.")


@view(ProductReadiness, name="ProductReadiness")
class ProductReadinessType:
    product_key: str
    product_name: str
    audience: int = strawberry.field(
        description="People in any active or completed campaign for the product's brief."
    )
    passed: int = strawberry.field(description="…who passed a check on the current version.")
    share: float | None
    departments: list[DepartmentShareType]


@view(
    OrganisationReadiness,
    name="OrganisationReadiness",
    description="Can our people state what makes us worth buying, in the customer's words?",
)
class OrganisationReadinessType:
    question: str
    audience: int = strawberry.field(description="Person-product pairs across every product below.")
    passed: int
    share: float | None
    products: list[ProductReadinessType]


@strawberry.type
class ReadinessQuery:
    @strawberry.field(
        description="Audience, acknowledged, passed and overdue for the brief's current version, in "
        "total and per department (editors, admins, `campaigns:read`; managers: their department)."
    )
    async def campaign_readiness(self, info: Info, campaign_id: strawberry.ID) -> CampaignReadinessType:
        return await run(info, readiness_service.campaign_readiness, to_uuid(campaign_id, "campaignId"))

    @strawberry.field(
        description="Can our people state what makes us worth buying, in the customer's words? Per "
        "product with a published pitch, the share of its campaign audiences that passed a check on the "
        "current version (editors, admins, `campaigns:read`; managers: their department)."
    )
    async def readiness(self, info: Info) -> OrganisationReadinessType:
        return await run(info, readiness_service.organisation_readiness)
