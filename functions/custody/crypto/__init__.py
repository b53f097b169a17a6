"""Envelope encryption and crypto-shredding: per-customer data keys, and sealed fields and documents.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
