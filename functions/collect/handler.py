"""The `collect` function: see `custody.catalog` for its routes."""

from custody.api import build_resolver, entrypoint, observability

obs = observability("collect")
app = build_resolver("collect")

lambda_handler = entrypoint(app, obs)
