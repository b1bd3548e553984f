"""GraphQL types, queries and mutations for evidence items (claims that can go stale)."""

from __future__ import annotations

import strawberry

from service import graphql_kit as gql
from service.evidence import service as evidence_service
from service.evidence.schemas import EvidenceCreate, EvidenceRead, EvidenceVerify, Freshness

FreshnessType = gql.view_type(
    Freshness, "Freshness", "`STALE` while any cited evidence is past its verify-by date."
)
EvidenceType = gql.view_type(
    EvidenceRead,
    "Evidence",
    "A claim with an owner and a verify-by date.",
    by_id=evidence_service.evidence_by_ids,
)
EvidenceInput = gql.input_type(EvidenceCreate, "EvidenceInput")


@strawberry.type
class EvidenceRoot:
    evidence = gql.query(
        evidence_service.list_evidence,
        "Evidence items, oldest first; `expired: true` lists the ones to re-verify.",
    )
    evidence_item = gql.query(evidence_service.get_evidence, "One evidence item.")
    create_evidence = gql.mutation(
        evidence_service.create_evidence, "Record a claim: a metric, a customer case, a quote or a small win."
    )
    verify_evidence = gql.mutation(
        evidence_service.verify_evidence,
        "Re-verify a claim (owner, editors, admins); `verifyBy` defaults to 90 days from today.",
        schema=EvidenceVerify,
    )
    replace_evidence = gql.mutation(
        evidence_service.replace_evidence,
        "Replace a claim with a new item; everything citing the old one cites the new one.",
    )
