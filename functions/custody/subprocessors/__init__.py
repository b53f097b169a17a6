"""subprocessors: see docs/architecture.md, "Rooms"."""
