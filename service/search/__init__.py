"""Search across briefs, messages, evidence, feedback and themes (one index, both databases)."""
