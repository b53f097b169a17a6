"""Who may do what: the compiled policies of one stack, and IAM's decision for a request.

Same-account evaluation (IAM user guide, "Policy evaluation logic"):

1. An explicit `Deny` in any applicable policy (the caller's identity policies, the resource's
   policy, a key policy) refuses the request.
2. KMS: the key policy must allow the caller, either naming it (its role ARN or service) or
   naming the account (`arn:aws:iam::<account>:root`), which delegates to the caller's identity
   policies - they must then allow it too.
3. Everything else: an `Allow` in the caller's identity policies, or in the resource's policy
   naming the caller directly, suffices. A resource policy that names only the account grants
   nothing by itself.

An operator or condition key that is not modelled refuses the request (fail closed) and says so.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from devstack.iam.conditions import Unmodelled
from devstack.iam.policy import Effect, Named, Principal, Request, Statement

_CACHE_LIMIT = 8192


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


def resource_owner(resource: str) -> str:
    """The ARN whose resource policy governs `resource`: an S3 object's bucket, else itself."""
    if resource.startswith("arn:aws:s3:::") and "/" in resource:
        return resource.split("/", 1)[0]
    return resource


@dataclass
class Authority:
    """identities: role ARN -> its statements; resource_policies: resource ARN -> statements
    (bucket, queue, topic, function, key policies; key ARNs are in `keys`)."""

    identities: Mapping[str, tuple[Statement, ...]]
    resource_policies: Mapping[str, tuple[Statement, ...]]
    keys: frozenset[str]
    _cache: dict[tuple[object, ...], Verdict] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def decide(self, principal: Principal, request: Request) -> Verdict:
        key = (principal, request.action, request.resource, tuple(sorted(request.context.items())))
        found = self._cache.get(key)
        if found is None:
            found = self._decide(principal, request)
            with self._lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = found
        return found

    def _decide(self, principal: Principal, request: Request) -> Verdict:
        identity = self.identities.get(principal.arn, ()) if principal.arn else ()
        owner = resource_owner(request.resource)
        resource_policy = self.resource_policies.get(owner, ())
        try:
            from_identity = [s.effect for s in identity if s.match(principal, request) is not Named.NOT]
            from_resource = [(s.effect, named) for s in resource_policy if (named := s.match(principal, request))]
            from_resource = [(effect, named) for effect, named in from_resource if named is not Named.NOT]
        except Unmodelled as error:
            return Verdict(False, f"{self._who(principal, request)}: fail closed, {error}")
        if Effect.DENY in from_identity:
            return Verdict(False, f"{self._who(principal, request)} with an explicit deny in an identity-based policy")
        if any(effect is Effect.DENY for effect, _ in from_resource):
            return Verdict(False, f"{self._who(principal, request)} with an explicit deny in a resource-based policy")
        identity_allows = Effect.ALLOW in from_identity
        direct = any(effect is Effect.ALLOW and named is Named.DIRECTLY for effect, named in from_resource)
        if owner in self.keys:
            through_account = any(e is Effect.ALLOW and n is Named.THROUGH_ACCOUNT for e, n in from_resource)
            if direct or (through_account and identity_allows):
                return Verdict(True)
            why = "no identity-based policy allows it" if through_account else "the key policy does not allow it"
            return Verdict(False, f"{self._who(principal, request)} because {why}")
        if identity_allows or direct:
            return Verdict(True)
        return Verdict(
            False, f"{self._who(principal, request)} because no identity-based or resource-based policy allows it"
        )

    @staticmethod
    def _who(principal: Principal, request: Request) -> str:
        caller = principal.arn or principal.service
        return (
            f"{caller} ({principal.name}) is not authorized to perform: {request.action} "
            f"on resource: {request.resource}"
        )
