"""The auditor's library: read a chain (`reader`), verify it (`verification`), show it (`report`).

`chain` holds the plain data they share. Nothing here writes, and nothing needs more than the
stack's `AuditorRole` may do (docs/audit.md).
"""
