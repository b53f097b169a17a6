"""What auditors review through the API: a request's chains, executions, verification and certificate.

The disposal register too. Composes the ledger's reader (`custody.audit.review`) and the
retention sweep's register (`custody.retention.disposal`), so it sits above both.

A room of the library (`LAYERS` in tests/unit/test_rooms.py).
"""
