"""One repository per table and bucket, owning its key layout: the only room that calls DynamoDB, S3 or Cognito.

A room of the library: its modules import this room and the rooms below it only
(`LAYERS` in tests/unit/test_rooms.py).
"""
