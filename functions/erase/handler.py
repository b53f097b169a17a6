"""The `erase` function: see `custody.catalog` for its routes."""

from custody.api import build_resolver, entrypoint, observability

obs = observability("erase")
app = build_resolver("erase")

lambda_handler = entrypoint(app, obs)
