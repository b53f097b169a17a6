"""retention: see docs/architecture.md, "Rooms"."""
