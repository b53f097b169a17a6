"""What is declared once: data map, catalog, naming, settings, errors, clock, retention, steps, user pools.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
