"""The auditor's review of the ledger, shared by `custody audit` (ops) and the auditor's API routes.

`reader` reads a chain, its head and the request's executions with the clients it is given (the
auditor's role from the CLI, the `audit` function's role behind the API); `verification` judges it;
`chain` holds the plain data they share; `views` turns both into what the API returns (ids, kinds,
dates, digests and counts). Nothing here writes, and nothing needs more than the stack's
`AuditorRole` may do (docs/audit.md). Rendering as text or HTML stays in `ops.auditor.report`.
"""
