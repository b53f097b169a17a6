"""api: see docs/architecture.md, "Rooms"."""
