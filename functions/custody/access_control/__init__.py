"""access_control: see docs/architecture.md, "Rooms"."""
