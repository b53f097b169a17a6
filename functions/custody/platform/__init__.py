"""platform: see docs/architecture.md, "Rooms"."""
