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


@view(
    DepartmentReadiness,
    name="DepartmentReadiness",
    fields="department department_name audience acknowledged passed overdue",
)
class DepartmentReadinessType:
    department: str | None = strawberry.field(description="Department key; null for people without one.")


@view(
    CampaignReadiness,
    name="CampaignReadiness",
    description="Of the active people in the audience: who acknowledged the current brief version (or a "
    "minor fix of it), who passed its check, and who is overdue (last step past, not passed).",
    fields="campaign_id brief_id version basis_version audience acknowledged passed overdue departments campaign",
)
class CampaignReadinessType:
    brief_id: strawberry.ID | None = strawberry.field(description="The current (published) brief version.")
    basis_version: int | None = strawberry.field(
        description="The last substantive version: acknowledgements and checks from it on count."
    )
    campaign: CampaignType | None = strawberry.field(resolver=campaign)


@view(DepartmentShare, name="DepartmentShare")
class DepartmentShareType:
    share: float | None = strawberry.field(description="passed / audience; null for an empty audience.")


@view(ProductReadiness, name="ProductReadiness")
class ProductReadinessType:
    audience: int = strawberry.field(
        description="People in any active or completed campaign for the product's brief."
    )
    passed: int = strawberry.field(description="…who passed a check on the current version.")


@view(
    OrganisationReadiness,
    name="OrganisationReadiness",
    description="Can our people state what makes us worth buying, in the customer's words?",
)
class OrganisationReadinessType:
    audience: int = strawberry.field(description="Person-product pairs across every product below.")


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
