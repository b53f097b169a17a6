"""The `staff_tokens` function: the staff pool's pre-token-generation trigger (event version 2).

Cognito calls it before it issues a staff member's tokens (sign-in and refresh). It puts into the
access token one OAuth scope per staff group the user belongs to (`<prefix>-staff-api/<group>`)
and takes out any other scope of that resource server, so API Gateway can require a route's
groups as scopes (`catalog.Route.gateway_scopes`). It reads the groups Cognito passes, never the
user's attributes, and logs nothing of the event (it carries the user's e-mail address).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import PreTokenGenerationV2TriggerEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.access_control.authorization import staff_scopes
from custody.declared.settings import get_settings
from custody.platform.observability import observability

obs = observability("staff_tokens")


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    trigger = PreTokenGenerationV2TriggerEvent(event)
    granted, withheld = staff_scopes(
        trigger.request.group_configuration.groups_to_override, get_settings().resource_prefix
    )
    access_token = trigger.response.claims_scope_override_details.access_token_generation
    access_token.scopes_to_add = granted
    access_token.scopes_to_suppress = withheld
    obs.logger.info("Staff token scopes", extra={"scopes_granted": len(granted)})
    return trigger.raw_event
