"""crypto: see docs/architecture.md, "Rooms"."""
