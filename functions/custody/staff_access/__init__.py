"""staff_access: see docs/architecture.md, "Rooms"."""
