"""Who is calling a route and what they may do: token checks, staff members, sub-processor principals.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
