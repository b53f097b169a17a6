"""Notices to customers: templated e-mail through SES, and the address an erasure's last notice goes to.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
