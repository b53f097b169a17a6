"""Staff access on a need-to-know basis: grants, masked views, interactions, change-request reviews.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
