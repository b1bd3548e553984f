"""Readiness of a campaign over 100,000 people, and the organisation-wide question, on PostgreSQL."""
