"""The `staff` function: see `custody.catalog` for its routes."""

from custody.api import build_resolver, entrypoint, observability

obs = observability("staff")
app = build_resolver("staff")

lambda_handler = entrypoint(app, obs)
