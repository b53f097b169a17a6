"""The customer's identity in the Cognito user pool: its e-mail address read, disabled, deleted — by `sub`.

The token's `sub` is the subject id. Cognito's administrative operations take a local user's `sub`
as the `Username` when the user name is not an alias attribute (the customers' pool signs in with
the e-mail address as a username attribute, so the user name Cognito generates is never typed by
anyone): "If username isn't an alias attribute in your user pool, this value must be the sub of a
local user" (Amazon Cognito API reference, AdminGetUser, AdminDisableUser, AdminDeleteUser). So the
erasure steps name the user by `sub` directly, without a `ListUsers` search first.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from custody.declared.settings import Settings
from custody.platform.aws import clients

USER_NOT_FOUND = "UserNotFoundException"


def _not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == USER_NOT_FOUND


class CustomerIdentity:
    """The customers' Cognito user pool of `settings`; with no pool configured, nobody is found.

    Every method takes the subject id (`sub`), a UUID the caller validated, never a caller's text.
    Cognito errors other than `UserNotFoundException` pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.pool_id = settings.customer_user_pool_id

    def exists(self, subject_id: str) -> bool:
        """Whether the pool holds a user whose `sub` is `subject_id` (one `AdminGetUser`); False without a pool."""
        if not self.pool_id:
            return False
        try:
            clients.cognito_idp().admin_get_user(UserPoolId=self.pool_id, Username=subject_id)
        except ClientError as error:
            if _not_found(error):
                return False
            raise
        return True

    def email(self, subject_id: str) -> str | None:
        """The sign-in e-mail address of the user whose `sub` is `subject_id`, or None (no such user, no pool).

        One `ListUsers` call filtered on `sub`, asking for the `email` attribute only (the exporter's
        read-only right: `ListUsers` returns no more than the attributes asked for).
        """
        if not self.pool_id:
            return None
        found = clients.cognito_idp().list_users(
            UserPoolId=self.pool_id, Filter=f'sub = "{subject_id}"', Limit=1, AttributesToGet=["email"]
        )
        for user in found.get("Users", []):
            for attribute in user.get("Attributes", []):
                if attribute["Name"] == "email":
                    return str(attribute["Value"])
        return None

    def address(self, subject_id: str) -> str | None:
        """The `email` attribute of the user whose `sub` is `subject_id`, by `AdminGetUser` (the erasure steps' right).

        None when there is no such user, no pool, or no address.
        """
        if not self.pool_id:
            return None
        try:
            found = clients.cognito_idp().admin_get_user(UserPoolId=self.pool_id, Username=subject_id)
        except ClientError as error:
            if _not_found(error):
                return None
            raise
        for attribute in found.get("UserAttributes", []):
            if attribute["Name"] == "email":
                return str(attribute["Value"])
        return None

    def disable(self, subject_id: str) -> bool:
        """Stop new sign-ins and token refreshes, signing the user out; returns whether a user was there."""
        if not self.pool_id:
            return False
        try:
            clients.cognito_idp().admin_disable_user(UserPoolId=self.pool_id, Username=subject_id)
            clients.cognito_idp().admin_user_global_sign_out(UserPoolId=self.pool_id, Username=subject_id)
        except ClientError as error:
            if _not_found(error):
                return False
            raise
        return True

    def delete(self, subject_id: str) -> bool:
        """Delete the user; idempotent, returns whether this call deleted one."""
        if not self.pool_id:
            return False
        try:
            clients.cognito_idp().admin_delete_user(UserPoolId=self.pool_id, Username=subject_id)
        except ClientError as error:
            if _not_found(error):
                return False
            raise
        return True
