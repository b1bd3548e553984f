"""SCIM 2.0 routes (placeholder until the SCIM adapter lands)."""

from fastapi import APIRouter

router = APIRouter(prefix="/scim/v2", tags=["scim"])
