"""Erasure: what a cause erases, starting a request, the steps and their typed contract, the restore guard.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
