"""The web front end's pages and the security headers they are served with, declared once.

Both places that serve the pages read this module: CloudFront's response headers policy
(`infra.constructs.web`) and the local gateway (`devstack.gateway`), so the local stack never serves
a page under a looser policy than the deployed one (tests/infra/test_devstack_parity.py).

Pages (paths below the site's root, the API's `/v1/...` routes sharing the origin):

* `/` the privacy center (customers, the customer pool);
* `/console/` the staff and auditor console (the staff pool);
* `/docs/` the API reference (Swagger UI 5, which renders OpenAPI 3.1);
* `/config.json` the deploy-time settings the pages read (`WebConfig`).

Headers follow the OWASP Secure Headers Project's recommendations; the Content-Security-Policy
allows scripts and styles from the origin only (no inline script, no `eval`), and connections to
the origin (the API) and to the customer and staff pools' Cognito endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

PRIVACY_CENTER_PATH: Final = "/"
CONSOLE_PATH: Final = "/console/"
API_REFERENCE_PATH: Final = "/docs/"
CONFIG_PATH: Final = "/config.json"

# HSTS: two years, the preload list's minimum (hstspreload.org), subdomains included.
HSTS_MAX_AGE_SECONDS: Final = 63_072_000


def cognito_endpoint(region: str) -> str:
    """The Cognito user pools API endpoint of `region` that the browser calls.

    AWS General Reference, "Amazon Cognito endpoints and quotas".
    """
    return f"https://cognito-idp.{region}.amazonaws.com"


def content_security_policy(connect_sources: Sequence[str], *, api_reference: bool = False) -> str:
    """The Content-Security-Policy of the pages.

    `connect_sources` are the origins the pages may call besides their own (the Cognito endpoint).
    The API reference (`api_reference`) also allows inline `style` attributes: Swagger UI's React
    components set them; its scripts are still the origin's only.
    """
    styles = "'self' 'unsafe-inline'" if api_reference else "'self'"
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            f"style-src {styles}",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src " + " ".join(("'self'", *connect_sources)),
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        )
    )


def security_headers(connect_sources: Sequence[str], *, api_reference: bool = False) -> dict[str, str]:
    """Every security header a page is served with, by header name."""
    return {
        "Content-Security-Policy": content_security_policy(connect_sources, api_reference=api_reference),
        "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
