"""erasure: see docs/architecture.md, "Rooms"."""
