"""The caller's own feed: loop news for the feedback they filed (campaign touchpoints join later)."""
