"""What a data subject does: consent, profile, documents, change requests (rectification), the access report.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
