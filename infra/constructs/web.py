"""The web front end: the built pages in a private bucket, served by CloudFront with the API on the same origin.

* The site bucket is private (public access blocked, TLS only, bucket owner enforced), versioned with old
  versions forgotten like the data buckets, SSE-KMS with its own customer-managed key, and logs its
  access into the access-log bucket. CloudFront reads it through Origin Access Control (SigV4): the
  bucket policy lets `cloudfront.amazonaws.com` get objects only for this distribution (`AWS:SourceArn`).
* `/v1/*` goes to the REST API's stage, uncached, with every viewer header but `Host` (API Gateway
  routes on its own host name): the pages call the API at relative URLs, so no CORS is needed.
* Every page is served with the security headers `custody.declared.web` declares (the API reference
  under `/docs/*` with its own variant), as CloudFront response headers policies.
* `BucketDeployment` copies `build/web` (`make web`) and writes `/config.json` with the deploy-time
  values (region, pool and app client ids), then invalidates the distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from aws_cdk import Annotations, CfnResource, DefaultStackSynthesizer, Duration, Stack, Token
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct

from custody.declared import naming, web
from custody.declared.datamap import Classification
from infra.config import LONGEST_REGION, CustodyConfig
from infra.constructs.data import no_replica, tag_store
from infra.constructs.identity import Identity
from infra.constructs.lifecycle import BOOTSTRAP_QUALIFIER, KEEP
from infra.constructs.loggroups import encrypted_log_group
from infra.nag import HIPAA, NIST, acknowledge, acknowledge_in_packs, acknowledge_wildcard, checkov_skip

SITE_DIR: Final = Path(__file__).resolve().parents[2] / "build" / "web"
BUILT_MARKER: Final = ".built"
API_PATH_PATTERN: Final = "/v1/*"
API_REFERENCE_PATTERN: Final = web.API_REFERENCE_PATH + "*"
SITE_LOG_PREFIX: Final = "web"
DEPLOYMENT_HANDLER: Final = "Custom::CDKBucketDeployment"
# The deployment function's logical name (named `<prefix>-site-deployment` like the catalog's functions,
# though it is CDK's, not the catalog's) and the site bucket's store tag: no personal data in either.
DEPLOYMENT_FUNCTION: Final = "site_deployment"
SITE_STORE: Final = "web_site"
# The headers CloudFront's security-headers settings carry; every other declared header is a custom
# header (CloudFront refuses a custom header that duplicates one of these).
MANAGED_SECURITY_HEADERS: Final = frozenset(
    {
        "Content-Security-Policy",
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
    }
)
# CloudFront's one security-headers setting this module does not map (OWASP advises against the header):
# declaring it is refused rather than dropped, and a custom header of that name CloudFront itself refuses.
UNMAPPED_SECURITY_HEADERS: Final = frozenset({"X-XSS-Protection"})
# CloudFront quotas: custom headers per response headers policy, and the Content-Security-Policy's length.
MAX_CUSTOM_HEADERS: Final = 10
MAX_CSP_LENGTH: Final = 1783


def site_dir(path: Path = SITE_DIR) -> Path:
    """`build/web`, checked: synthesis fails here, with what to run, when the pages were never built."""
    if not (path / BUILT_MARKER).is_file():
        raise FileNotFoundError(f"{path} is missing or incomplete: run `make web` to build the web front end")
    return path


def web_config(
    *, region: str, customer_pool: str, customer_client: str, staff_pool: str, staff_client: str
) -> dict[str, object]:
    """`/config.json`: what the pages read at start (same origin, so `apiBase` is empty; an empty
    `cognitoEndpoint` means the pools' regional endpoint)."""
    return {
        "region": region,
        "apiBase": "",
        "cognitoEndpoint": "",
        "customerPool": {"userPoolId": customer_pool, "clientId": customer_client},
        "staffPool": {"userPoolId": staff_pool, "clientId": staff_client},
    }


def headers_behaviors(
    headers: Mapping[str, str],
) -> tuple[cloudfront.ResponseSecurityHeadersBehavior, cloudfront.ResponseCustomHeadersBehavior]:
    """The declared headers as CloudFront's security-headers settings plus custom headers, every one
    overriding what the origin sends. Errors: ValueError for a declared value CloudFront cannot express."""
    unmapped = sorted(UNMAPPED_SECURITY_HEADERS & set(headers))
    if unmapped:
        raise ValueError(f"{', '.join(unmapped)}: a CloudFront security-headers setting this module does not map")
    csp = headers["Content-Security-Policy"]
    if not Token.is_unresolved(csp) and len(csp) > MAX_CSP_LENGTH:
        raise ValueError(f"The Content-Security-Policy is {len(csp)} characters; CloudFront takes {MAX_CSP_LENGTH}")
    security = cloudfront.ResponseSecurityHeadersBehavior(
        content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
            content_security_policy=csp, override=True
        ),
        strict_transport_security=_hsts(headers["Strict-Transport-Security"]),
        content_type_options=_content_type_options(headers["X-Content-Type-Options"]),
        frame_options=cloudfront.ResponseHeadersFrameOptions(
            frame_option=_frame_option(headers["X-Frame-Options"]), override=True
        ),
        referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
            referrer_policy=_referrer_policy(headers["Referrer-Policy"]), override=True
        ),
    )
    custom = [
        cloudfront.ResponseCustomHeader(header=name, value=value, override=True)
        for name, value in headers.items()
        if name not in MANAGED_SECURITY_HEADERS
    ]
    if len(custom) > MAX_CUSTOM_HEADERS:
        raise ValueError(f"CloudFront allows {MAX_CUSTOM_HEADERS} custom headers per policy, not {len(custom)}")
    return security, cloudfront.ResponseCustomHeadersBehavior(custom_headers=custom)


def _hsts(value: str) -> cloudfront.ResponseHeadersStrictTransportSecurity:
    directives = [part.strip().lower() for part in value.split(";")]
    (max_age,) = (int(part.split("=", 1)[1]) for part in directives if part.startswith("max-age="))
    known = {f"max-age={max_age}", "includesubdomains", "preload"}
    if set(directives) - known:
        raise ValueError(f"Strict-Transport-Security {value!r} has directives CloudFront cannot express")
    return cloudfront.ResponseHeadersStrictTransportSecurity(
        access_control_max_age=Duration.seconds(max_age),
        include_subdomains="includesubdomains" in directives,
        preload="preload" in directives,
        override=True,
    )


def _content_type_options(value: str) -> cloudfront.ResponseHeadersContentTypeOptions:
    if value.lower() != "nosniff":
        raise ValueError("CloudFront's X-Content-Type-Options setting sends nosniff only")
    return cloudfront.ResponseHeadersContentTypeOptions(override=True)


def _frame_option(value: str) -> cloudfront.HeadersFrameOption:
    try:
        return cloudfront.HeadersFrameOption[value.upper()]
    except KeyError:
        raise ValueError(f"X-Frame-Options {value!r} is not DENY or SAMEORIGIN") from None


def _referrer_policy(value: str) -> cloudfront.HeadersReferrerPolicy:
    try:
        return cloudfront.HeadersReferrerPolicy[value.upper().replace("-", "_")]
    except KeyError:
        raise ValueError(f"Referrer-Policy {value!r} is not one CloudFront offers") from None


def path_function_code() -> str:
    """A CloudFront Function (viewer request): `/docs` redirects to `/docs/`, and a path ending in `/`
    is the `index.html` below it (S3 has no directory indexes; the default root object covers `/` only)."""
    pages = sorted(path.rstrip("/") for path in (web.CONSOLE_PATH, web.API_REFERENCE_PATH))
    listed = ", ".join(f"'{page}'" for page in pages)
    return f"""function handler(event) {{
  var request = event.request;
  var uri = request.uri;
  if ([{listed}].indexOf(uri) !== -1) {{
    var location = {{ value: uri + '/' }};
    return {{ statusCode: 301, statusDescription: 'Moved Permanently', headers: {{ location: location }} }};
  }}
  if (uri.endsWith('/')) {{
    request.uri = uri + 'index.html';
  }}
  return request;
}}
"""


class Web(Construct):
    """The site bucket, its key, the distribution, the two response headers policies and the deployment.

    `distribution`, `bucket`, `key`, `deployment` and `site_url` are public; `site_writer` (the
    deployment's custom resource) writes into the bucket and is for the stack to create last
    (infra.constructs.lifecycle).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CustodyConfig,
        rest_api: apigateway.RestApi,
        identity: Identity,
        access_logs: s3.IBucket,
        log_key: kms.IKey,
        site: Path | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        source = site_dir(site or SITE_DIR)
        region = Stack.of(self).region
        self.key = kms.Key(
            self,
            "SiteKey",
            alias=f"alias/{config.name('web')}",
            description="CRM Custody: the web front end's bucket (read by CloudFront through OAC).",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=KEEP,
        )
        self.bucket = self._bucket(config, access_logs)
        tag_store(self.bucket, SITE_STORE, Classification.OPERATIONAL)
        connect = [web.cognito_endpoint(region)]
        longest = web.content_security_policy([web.cognito_endpoint("r" * LONGEST_REGION)], api_reference=True)
        if len(longest) > MAX_CSP_LENGTH:
            raise ValueError(f"The API reference's Content-Security-Policy outgrows CloudFront's {MAX_CSP_LENGTH}")
        self.pages_headers = self._headers_policy(
            "PagesHeaders", config.regional_name("pages"), web.security_headers(connect)
        )
        self.api_reference_headers = self._headers_policy(
            "ApiReferenceHeaders",
            config.regional_name("api-reference"),
            web.security_headers(connect, api_reference=True),
        )
        paths = cloudfront.Function(
            self,
            "Paths",
            function_name=config.regional_name("paths"),
            comment="Page paths: /docs to /docs/, a directory to its index.html",
            code=cloudfront.FunctionCode.from_inline(path_function_code()),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        on_request = [
            cloudfront.FunctionAssociation(function=paths, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)
        ]
        access_control = cloudfront.S3OriginAccessControl(
            self,
            "OriginAccessControl",
            origin_access_control_name=config.regional_name("site"),
            description="CloudFront signs its requests to the site bucket (SigV4).",
            signing=cloudfront.Signing.SIGV4_ALWAYS,
        )
        site_origin = origins.S3BucketOrigin.with_origin_access_control(
            self.bucket,
            origin_access_control=access_control,
            origin_access_levels=[cloudfront.AccessLevel.READ],
        )

        def site_behavior(headers: cloudfront.IResponseHeadersPolicy) -> cloudfront.BehaviorOptions:
            """A behavior of the pages from the bucket: GET and HEAD, cached, paths rewritten, `headers` sent."""
            return cloudfront.BehaviorOptions(
                origin=site_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                function_associations=on_request,
                compress=True,
            )

        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", config.web_certificate_arn)
            if config.web_certificate_arn
            else None
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.prefix}: privacy center, console, API reference; the API under /v1/",
            default_root_object="index.html",
            default_behavior=site_behavior(self.pages_headers),
            additional_behaviors={
                API_PATH_PATTERN: cloudfront.BehaviorOptions(
                    origin=origins.RestApiOrigin(rest_api),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=self.pages_headers,
                ),
                API_REFERENCE_PATTERN: site_behavior(self.api_reference_headers),
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_ipv6=True,
            domain_names=[config.web_domain_name] if config.web_domain_name else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
            web_acl_id=config.web_acl_arn,
            price_class=cloudfront.PriceClass.PRICE_CLASS_ALL,
        )
        self.site_url = f"https://{config.web_domain_name or self.distribution.distribution_domain_name}"
        self.deployment = self._deploy(config, source, region, identity, log_key)
        (self.site_writer,) = (
            child
            for child in self.deployment.node.find_all()
            if isinstance(child, CfnResource) and child.cfn_resource_type.startswith("Custom::CDKBucketDeployment")
        )
        self._acknowledge(config)

    def _bucket(self, config: CustodyConfig, access_logs: s3.IBucket) -> s3.Bucket:
        # No fixed name: nothing outside the stack addresses the bucket (CloudFront reaches it from the
        # template), and a bucket a failed creation left behind cannot block the retry.
        return s3.Bucket(
            self,
            "SiteBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{SITE_LOG_PREFIX}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ForgetOldVersions",
                    noncurrent_version_expiration=Duration.days(config.noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=KEEP,
        )

    def _headers_policy(
        self, construct_id: str, name: str, headers: Mapping[str, str]
    ) -> cloudfront.ResponseHeadersPolicy:
        security, custom = headers_behaviors(headers)
        return cloudfront.ResponseHeadersPolicy(
            self,
            construct_id,
            response_headers_policy_name=name,
            comment="custody.declared.web.security_headers",
            security_headers_behavior=security,
            custom_headers_behavior=custom,
        )

    def _deploy(
        self, config: CustodyConfig, source: Path, region: str, identity: Identity, log_key: kms.IKey
    ) -> s3_deployment.BucketDeployment:
        role = iam.Role(
            self,
            "DeploymentRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="CDK's BucketDeployment: copies build/web into the site bucket and invalidates the CDN.",
        )
        logs = encrypted_log_group(self, "DeploymentLogs", key=log_key, days=config.log_retention_days)
        self.deployment_policy = self._deployment_policy(role, logs.log_group_arn)
        settings = web_config(
            region=region,
            customer_pool=identity.customers.user_pool_id,
            customer_client=identity.customer_client.user_pool_client_id,
            staff_pool=identity.staff.user_pool_id,
            staff_client=identity.staff_client.user_pool_client_id,
        )
        deployment = s3_deployment.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                s3_deployment.Source.asset(str(source), exclude=[BUILT_MARKER]),
                s3_deployment.Source.json_data(web.CONFIG_PATH.lstrip("/"), settings),
            ],
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            retain_on_delete=True,
            # CDK's own grants (wildcard actions, invalidations on every distribution) are replaced by
            # the managed policy above, which names each action and resource.
            role=role.without_policy_updates(),
            log_group=logs,
            memory_limit=512,
        )
        deployment.node.add_dependency(self.deployment_policy)
        return deployment

    def _deployment_policy(self, role: iam.IRole, log_group_arn: str) -> iam.ManagedPolicy:
        """What the deployment's function does, and no more: read the two assets, sync the site into the
        bucket (list, put, delete, with the site key), invalidate this distribution, write its logs."""
        stack = Stack.of(self)
        qualifier = self.node.try_get_context(BOOTSTRAP_QUALIFIER) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
        assets = f"arn:{stack.partition}:s3:::cdk-{qualifier}-assets-{stack.account}-{stack.region}"
        self._assets_objects = f"{assets}/*"
        distribution = (
            f"arn:{stack.partition}:cloudfront::{stack.account}:distribution/{self.distribution.distribution_id}"
        )
        return iam.ManagedPolicy(
            self,
            "DeploymentPolicy",
            description="The site deployment: read its assets, sync build/web into the site bucket, invalidate.",
            roles=[role],
            statements=[
                iam.PolicyStatement(sid="ReadAssets", actions=["s3:GetObject"], resources=[self._assets_objects]),
                iam.PolicyStatement(sid="ListSite", actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]),
                iam.PolicyStatement(
                    sid="SyncSite",
                    actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    resources=[self.bucket.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="EncryptSite",
                    actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[self.key.key_arn],
                ),
                iam.PolicyStatement(
                    sid="Invalidate",
                    actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                    resources=[distribution],
                ),
                iam.PolicyStatement(
                    sid="WriteLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group_arn]
                ),
            ],
        )

    def _acknowledge(self, config: CustodyConfig) -> None:
        distribution = self.distribution
        acknowledge(
            distribution,
            "AwsSolutions-CFR1",
            "The privacy center serves customers wherever they live (GDPR rights do not depend on where a data "
            "subject is); a geographic restriction would lock customers abroad out of their own data.",
        )
        if not config.web_acl_arn:
            reason = (
                "A CloudFront web ACL must live in us-east-1 and this stack is regional; set custody:webAclArn to "
                "attach one. The API behind /v1/* keeps its own regional WAF (rate limit, managed rules)."
            )
            acknowledge(distribution, "AwsSolutions-CFR2", reason)
            checkov_skip(distribution, "CKV_AWS_68", reason)
        logging_reason = (
            "CloudFront's request logs record every viewer's IP address and the pages they read, personal data "
            "about customers outside the data map that erasure could not reach (the API's access logs keep no "
            "caller IP for the same reason). They could not go to the access-log bucket anyway: legacy logs need "
            "ACLs, which it disables, and standard logging v2 is configured in us-east-1, outside this regional "
            "stack. The bucket's server access logs and the API's access logs remain."
        )
        acknowledge(distribution, "AwsSolutions-CFR3", logging_reason)
        checkov_skip(distribution, "CKV_AWS_86", logging_reason)
        if not config.web_certificate_arn:
            tls = (
                "Without custody:webDomainName and custody:webCertificateArn the distribution uses CloudFront's "
                "default certificate, with which CloudFront fixes the TLS policy itself; with them it is "
                "TLSv1.2_2021."
            )
            acknowledge(distribution, "AwsSolutions-CFR4", tls)
            checkov_skip(distribution, "CKV_AWS_174", tls)
        Annotations.of(self).acknowledge_warning(
            "@aws-cdk/aws-cloudfront-origins:wildcardKeyPolicyForOac",
            "The site key's policy lets CloudFront decrypt for this account's distributions (the distribution's "
            "id cannot appear in the policy of a key its bucket needs first); the bucket policy lets only this "
            "distribution read an object, and the key encrypts nothing but the public site.",
        )
        no_replica(
            self.bucket,
            "The site bucket holds only what `make web` builds from the repository; a deploy rebuilds it anywhere, "
            "so a replica would add a copy and no durability worth having.",
        )
        acknowledge_wildcard(
            self.deployment_policy,
            self._assets_objects,
            "CDK's bootstrap bucket keys each asset by its content hash, unknown until the asset is staged; the "
            "deployment only reads objects there (s3:GetObject), never lists or writes.",
        )
        acknowledge_wildcard(
            self.deployment_policy,
            self.bucket.arn_for_objects("*"),
            "The deployment syncs the whole site (every page, bundle and /config.json) into the site bucket and "
            "prunes what the build no longer has, so it writes any key of this one bucket.",
        )
        self._name_and_acknowledge_handler(config)

    def _name_and_acknowledge_handler(self, config: CustodyConfig) -> None:
        """CDK's BucketDeployment function is a singleton of the stack (one per memory size), outside this
        construct: named like the stack's other functions, and acknowledged where it is."""
        stack = Stack.of(self)
        (handler,) = (child for child in stack.node.children if child.node.id.startswith(DEPLOYMENT_HANDLER))
        function = handler.node.default_child
        assert isinstance(function, lambda_.CfnFunction)
        function.function_name = naming.function_name(config.prefix, DEPLOYMENT_FUNCTION)
        acknowledge(
            function,
            "AwsSolutions-L1",
            "CDK's BucketDeployment pins its handler's runtime together with the AWS CLI layer it bundles; the "
            "function runs only during a deploy, copying the site, and moves with the aws-cdk-lib version.",
        )
        once = (
            "The deployment function runs once per deploy, invoked synchronously by CloudFormation, which reports "
            "its failure as the deploy's; concurrency reservation or a DLQ would never come into play."
        )
        acknowledge_in_packs(function, "LambdaConcurrency", once, packs=(HIPAA, NIST))
        acknowledge_in_packs(function, "LambdaDLQ", once, packs=(HIPAA, NIST))
        checkov_skip(function, "CKV_AWS_115", once)
        checkov_skip(function, "CKV_AWS_116", once)
        outside_vpc = (
            "The deployment function calls only S3, KMS and CloudFront's APIs over TLS with IAM-signed requests; "
            "it reaches no private network resource, so a VPC would add endpoints without isolating anything."
        )
        acknowledge_in_packs(function, "LambdaInsideVPC", outside_vpc)
        checkov_skip(function, "CKV_AWS_117", outside_vpc)
        checkov_skip(
            function,
            "CKV_AWS_173",
            "CDK's BucketDeployment function has no environment of its own; nothing secret is ever in it.",
        )
