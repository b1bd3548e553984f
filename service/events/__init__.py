"""Events: the catalogue of what CueCard tells other systems, and the outbox they are written to
in the transaction of the change that causes them (see docs/events.md)."""
