"""declared: see docs/architecture.md, "Rooms"."""
