"""AWS clients, transient-failure handling, idempotency, and each function's logs, metrics and traces.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
