"""Sub-processors: the agreement registry, disclosures, deletion requests, task-token seals, acknowledgements.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
