"""stores: see docs/architecture.md, "Rooms"."""
