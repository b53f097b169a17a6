"""The `processors` function: see `custody.catalog` for its routes."""

from custody.api import build_resolver, entrypoint, observability

obs = observability("processors")
app = build_resolver("processors")

lambda_handler = entrypoint(app, obs)
