"""Live streams (Server-Sent Events): a person's own events and a product's pitch changes,
read from the outbox in commit order (`seq`) and resumable with `Last-Event-ID`."""
