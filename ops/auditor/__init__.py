"""The auditor's views: `report` shows a chain as text or HTML.

Reading (`custody.audit.review.reader`) and verifying (`custody.audit.review.verification`) live in
the deployed library, so that `custody audit` and the console's auditor routes run one
implementation. Nothing here writes, and nothing needs more than the stack's `AuditorRole` may do
(docs/audit.md).
"""
