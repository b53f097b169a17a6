"""The audit ledger: hash-chained events under Object Lock, the grammar they must fit, the CloudTrail Lake copy.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
