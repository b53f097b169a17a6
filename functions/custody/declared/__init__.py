"""What is declared once: the data map, the catalog, naming, settings, errors, the clock, retention dates, step names.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
