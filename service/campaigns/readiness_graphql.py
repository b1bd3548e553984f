"""GraphQL for readiness: per campaign, and per product across the organisation (readiness.py)."""

from __future__ import annotations

import strawberry

from service import graphql_kit as gql
from service.campaigns import readiness as readiness_service
from service.campaigns import schemas
from service.campaigns.graphql import CampaignType

# REST describes the counts; GraphQL's contract never did, and stays as it is.
COUNTS = "audience acknowledged passed overdue"

DepartmentReadinessType = gql.view_type(
    schemas.DepartmentReadiness,
    "DepartmentReadiness",
    fields=f"department department_name {COUNTS} attended",
    undescribed=COUNTS,
)

StoryGapType = gql.view_type(schemas.StoryGap, "StoryGap")


@gql.view(
    schemas.CampaignReadiness,
    name="CampaignReadiness",
    fields=f"campaign_id brief_id version basis_version {COUNTS} attended departments story_gaps campaign",
    undescribed=COUNTS,
)
class CampaignReadinessType:
    """Of the active people in the audience: who acknowledged the current brief version (or a minor
    fix of it), who passed its check, who is overdue (last step past, not passed), and who
    attended a briefing."""

    campaign: CampaignType | None = gql.loaded("campaign_id")


DepartmentShareType = gql.view_type(schemas.DepartmentShare, "DepartmentShare")
ProductReadinessType = gql.view_type(schemas.ProductReadiness, "ProductReadiness")
OrganisationReadinessType = gql.view_type(
    schemas.OrganisationReadiness,
    "OrganisationReadiness",
    "Can our people state what makes us worth buying, in the customer's words?",
)


@strawberry.type
class ReadinessQuery:
    campaign_readiness = gql.query(
        readiness_service.campaign_readiness,
        "Audience, acknowledged, passed and overdue for the brief's current version, and who attended a "
        "briefing, in total and per department (editors, admins, `campaigns:read`; managers: their department).",
        campaign_id=strawberry.ID,
    )
    readiness = gql.query(
        readiness_service.organisation_readiness,
        "Can our people state what makes us worth buying, in the customer's words? Per product with a "
        "published pitch, the share of its campaign audiences that passed a check on the current version "
        "(editors, admins, `campaigns:read`; managers: their department).",
    )
