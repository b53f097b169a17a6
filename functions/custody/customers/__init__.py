"""customers: see docs/architecture.md, "Rooms"."""
