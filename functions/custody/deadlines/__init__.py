"""The requests register: when each data-subject request was received and is due, its one extension, its answer.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
