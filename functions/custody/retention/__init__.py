"""The retention sweep, the erasure SLA measure, the disposal register and the retention plan.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
