"""The embedded local AWS: moto's server, in-process Lambda, a local API gateway, the demo journey.

Never deployed. Everything here is derived from the same declarations the CDK stack uses
(`custody.declared.datamap`, `custody.declared.catalog`, `custody.declared.naming`, `custody.declared.settings` and
`statemachines/erasure.asl.json`), so a local run exercises the real functions and the real
state machine under the real names.
"""
