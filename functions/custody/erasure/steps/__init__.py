"""The erasure workflow's steps, one module each (the processors' three steps share one).

Each is `run(context, event) -> output`: a typed input and output (`custody.erasure.contract`),
ids in and counts and statuses out. Every step is idempotent: a re-run, a retry or a redrive
after a crash in any state ends in the same verified state. `custody.erasure.workflow` maps
the names `statemachines/erasure.asl.json` uses to them.
"""
