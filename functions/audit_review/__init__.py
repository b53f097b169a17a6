"""The `audit_review` function: the auditor's read-only API (disposal register, per-request review)."""
