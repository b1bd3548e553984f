"""The caller's own feed: their due and upcoming campaign steps, and loop news for the feedback they filed."""
