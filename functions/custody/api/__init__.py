"""The HTTP entrypoint every API function shares: authorization, the resolver and its one error shape.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
