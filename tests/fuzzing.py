"""Shared by the fuzz suites: who calls (an admin and an employee, real tokens) and a few
rows so generated requests also reach things that exist, not only 404s."""

from __future__ import annotations

import os
from dataclasses import dataclass

from fastapi import FastAPI

from tests.campaigns.helpers import make_campaign
from tests.factories import make_brief, make_department, make_person, make_product, token_for
from tests.messages.test_messages import make_evidence

BACKEND = os.environ.get("CUECARD_TEST_BACKEND", "sqlite")


@dataclass
class Seeded:
    headers: dict[str, dict[str, str]]
    # Path parameter name → ids or keys that exist
    path_values: dict[str, list[str]]


async def seed(app: FastAPI) -> Seeded:
    """An admin and an employee with real tokens; a product, a published and a draft brief,
    an active campaign, evidence."""
    department = await make_department(app)
    admin = await make_person(app, role="admin", department_key=department.key)
    employee = await make_person(app, role="employee", department_key=department.key)
    editor = await make_person(app, role="editor", department_key=department.key)
    product = await make_product(app)
    published = await make_brief(app, editor, product.key, status="published")
    draft = await make_brief(app, editor, product.key)
    campaign = await make_campaign(app, brief=published, departments=[department.key])
    evidence_id = await make_evidence(app)
    return Seeded(
        headers={
            "admin": {"Authorization": f"Bearer {token_for(app, admin)}"},
            "employee": {"Authorization": f"Bearer {token_for(app, employee)}"},
        },
        path_values={
            "product_key": [product.key],
            "brief_id": [str(published.id), str(draft.id)],
            "campaign_id": [str(campaign.id)],
            "evidence_id": [evidence_id],
            "person_id": [str(admin.id), str(employee.id)],
        },
    )
