"""Webhooks for systems (issue 12): the SSRF guard and Standard Webhooks signing."""
