"""The `subject_access` function: see `custody.catalog` for its routes."""

from custody.api import build_resolver, entrypoint, observability

obs = observability("subject_access")
app = build_resolver("subject_access")

lambda_handler = entrypoint(app, obs)
