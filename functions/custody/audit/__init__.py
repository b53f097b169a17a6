"""audit: see docs/architecture.md, "Rooms"."""
