"""The customer's identity in the Cognito user pool: found by `sub`, its e-mail address read, disabled, deleted.

The token's `sub` is the subject id. Cognito's user name need not equal it (pools that sign in
by e-mail generate one), so the user is looked up by `sub` first.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from custody.declared.settings import Settings
from custody.platform.aws import clients


class CustomerIdentity:
    """The customers' Cognito user pool of `settings`; with no pool configured, nobody is found.

    Cognito errors pass through as botocore's `ClientError` (but for a user deleted meanwhile in
    `delete`).
    """

    def __init__(self, settings: Settings) -> None:
        self.pool_id = settings.customer_user_pool_id

    def username(self, subject_id: str) -> str | None:
        """The Cognito user name of the user whose `sub` is `subject_id`, or None (also when no pool is set).

        One `ListUsers` call filtered on `sub`. `subject_id` is quoted into the filter: callers pass the
        UUID the step contract validated, never a caller's text.
        """
        if not self.pool_id:
            return None
        found = clients.cognito_idp().list_users(
            UserPoolId=self.pool_id, Filter=f'sub = "{subject_id}"', Limit=1, AttributesToGet=[]
        )
        users = found.get("Users", [])
        return users[0]["Username"] if users else None

    def email(self, subject_id: str) -> str | None:
        """The sign-in e-mail address of the user whose `sub` is `subject_id`, or None (no such user, no pool).

        One `ListUsers` call filtered on `sub`, asking for the `email` attribute only.
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

    def disable(self, subject_id: str) -> bool:
        """Stop new sign-ins and token refreshes; returns whether a user was there to disable."""
        username = self.username(subject_id)
        if username is None:
            return False
        clients.cognito_idp().admin_disable_user(UserPoolId=self.pool_id, Username=username)
        clients.cognito_idp().admin_user_global_sign_out(UserPoolId=self.pool_id, Username=username)
        return True

    def delete(self, subject_id: str) -> bool:
        """Delete the user; idempotent, returns whether this call deleted one."""
        username = self.username(subject_id)
        if username is None:
            return False
        try:
            clients.cognito_idp().admin_delete_user(UserPoolId=self.pool_id, Username=username)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "UserNotFoundException":
                return False
            raise
        return True
