"""CueCard: API-first internal marketing."""
