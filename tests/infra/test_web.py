"""Issue 22: the web front end behind CloudFront (infra.constructs.web).

The site bucket is private and read only by this distribution through OAC; the API shares the
origin under /v1/*, uncached; every page is served with exactly the headers custody.declared.web
declares; /config.json carries the deploy-time pool ids; the deployment writes last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from custody.declared import web
from devstack.site import Site, WebConfig
from infra.config import CustodyConfig
from infra.constructs import web as site
from infra.constructs.identity import Identity
from tests.infra.conftest import Cfn, Synthesized, as_list

REGION = "eu-west-1"
# CloudFront's managed policies (Developer Guide, "Use managed cache policies" / "origin request policies").
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}


def _resolve(value: Any, region: str = REGION) -> Any:
    """A template value with the region filled in (the only pseudo parameter the headers carry)."""
    if isinstance(value, dict):
        if value == {"Ref": "AWS::Region"}:
            return region
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return delimiter.join(str(_resolve(item, region)) for item in items)
        return {key: _resolve(item, region) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, region) for item in value]
    return value


def served_headers(policy: dict[str, Any]) -> dict[str, str]:
    """The headers a response headers policy makes CloudFront send, by name, as a browser sees them."""
    config = _resolve(policy["ResponseHeadersPolicyConfig"])
    security = config["SecurityHeadersConfig"]
    hsts = security["StrictTransportSecurity"]
    headers = {
        "Content-Security-Policy": security["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "Strict-Transport-Security": f"max-age={hsts['AccessControlMaxAgeSec']}"
        + ("; includeSubDomains" if hsts["IncludeSubdomains"] else "")
        + ("; preload" if hsts["Preload"] else ""),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": security["FrameOptions"]["FrameOption"],
        "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
    }
    for item in config.get("CustomHeadersConfig", {}).get("Items", []):
        assert item["Header"] not in headers, item  # CloudFront refuses a duplicate of a security header
        headers[item["Header"]] = item["Value"]
    overrides = [entry["Override"] for entry in security.values()]
    overrides += [item["Override"] for item in config.get("CustomHeadersConfig", {}).get("Items", [])]
    assert all(overrides), "every header must override what the origin sends"
    return headers


def _one(cfn: Cfn, cfn_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = cfn.of_type(cfn_type).items()
    return found


def _distribution(cfn: Cfn) -> dict[str, Any]:
    return dict(_one(cfn, "AWS::CloudFront::Distribution")[1]["Properties"]["DistributionConfig"])


def _behavior(cfn: Cfn, pattern: str) -> dict[str, Any]:
    (behavior,) = (item for item in _distribution(cfn)["CacheBehaviors"] if item["PathPattern"] == pattern)
    return dict(behavior)


def _site_bucket(cfn: Cfn) -> str:
    origin = next(item for item in _distribution(cfn)["Origins"] if "S3OriginConfig" in item)
    (bucket,) = Cfn.refs(origin["DomainName"])
    return bucket


# --- the bucket: private, encrypted, versioned, logged; read by this distribution only -----------


def test_the_site_bucket_is_private_encrypted_versioned_and_logged(cfn: Cfn) -> None:
    bucket = cfn.props(_site_bucket(cfn))
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    (key,) = Cfn.refs(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    assert cfn.resources[key]["Type"] == "AWS::KMS::Key"
    assert cfn.props(key)["EnableKeyRotation"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "WebsiteConfiguration" not in bucket
    (access_logs,) = Cfn.refs(bucket["LoggingConfiguration"]["DestinationBucketName"])
    assert Cfn.tags(cfn.resources[access_logs])["custody:store"] == "access_logs"


def test_only_this_distribution_may_read_the_site_bucket_and_only_over_tls(cfn: Cfn) -> None:
    bucket = _site_bucket(cfn)
    distribution, _ = _one(cfn, "AWS::CloudFront::Distribution")
    (policy,) = (
        res for res in cfn.of_type("AWS::S3::BucketPolicy").values() if bucket in Cfn.refs(res["Properties"]["Bucket"])
    )
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allows = [statement for statement in statements if statement["Effect"] == "Allow"]
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert Cfn.refs(source) == {distribution}
    assert ":cloudfront::" in json.dumps(source)
    assert ":distribution/" in json.dumps(source)
    denies = [statement for statement in statements if statement["Effect"] == "Deny"]
    assert any(statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for statement in denies)


def test_cloudfront_signs_with_origin_access_control_not_an_identity(cfn: Cfn) -> None:
    oac, control = _one(cfn, "AWS::CloudFront::OriginAccessControl")
    assert control["Properties"]["OriginAccessControlConfig"] | {"Name": None, "Description": None} == {
        "Name": None,
        "Description": None,
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    assert not cfn.of_type("AWS::CloudFront::CloudFrontOriginAccessIdentity")
    (origin,) = (item for item in _distribution(cfn)["Origins"] if "S3OriginConfig" in item)
    assert Cfn.refs(origin["OriginAccessControlId"]) == {oac}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_the_site_key_lets_cloudfront_decrypt_only_for_this_accounts_distributions(cfn: Cfn) -> None:
    (rule,) = cfn.props(_site_bucket(cfn))["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (key,) = Cfn.refs(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    statements = cfn.props(key)["KeyPolicy"]["Statement"]
    (cloudfront,) = (item for item in statements if item.get("Principal") == {"Service": "cloudfront.amazonaws.com"})
    assert cloudfront["Action"] == "kms:Decrypt"
    source = json.dumps(cloudfront["Condition"]["ArnLike"]["AWS:SourceArn"])
    assert ":cloudfront::" in source
    assert '"AWS::AccountId"' in source
    assert source.endswith(':distribution/*"]]}')


# --- the distribution: HTTPS, HTTP/2 and 3, the API on the same origin --------------------------


def test_viewers_are_redirected_to_https_everywhere_and_served_http2_and_3(cfn: Cfn) -> None:
    distribution = _distribution(cfn)
    for behavior in [distribution["DefaultCacheBehavior"], *distribution["CacheBehaviors"]]:
        assert behavior["ViewerProtocolPolicy"] == "redirect-to-https", behavior.get("PathPattern")
    assert distribution["HttpVersion"] == "http2and3"
    assert distribution["DefaultRootObject"] == "index.html"
    assert {item["PathPattern"] for item in distribution["CacheBehaviors"]} == {"/v1/*", "/docs/*"}


def test_the_api_is_served_under_v1_uncached_with_every_viewer_header_but_host(cfn: Cfn) -> None:
    behavior = _behavior(cfn, "/v1/*")
    assert behavior["CachePolicyId"] == CACHING_DISABLED
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert set(behavior["AllowedMethods"]) == ALL_METHODS
    (origin,) = (item for item in _distribution(cfn)["Origins"] if item["Id"] == behavior["TargetOriginId"])
    referenced = {cfn.resources[lid]["Type"]: lid for lid in Cfn.refs(origin["DomainName"])}
    assert set(referenced) == {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage"}
    stage = referenced["AWS::ApiGateway::Stage"]
    assert stage in Cfn.refs(origin["OriginPath"])  # /v1/... reaches the stage's /v1/... resources
    assert cfn.props(stage)["StageName"] == CustodyConfig().stage_name
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_pages_and_the_api_reference_are_cached_static_files_from_the_bucket(cfn: Cfn) -> None:
    distribution = _distribution(cfn)
    (s3_origin,) = (item["Id"] for item in distribution["Origins"] if "S3OriginConfig" in item)
    for behavior in (distribution["DefaultCacheBehavior"], _behavior(cfn, "/docs/*")):
        assert behavior["TargetOriginId"] == s3_origin
        assert set(behavior["AllowedMethods"]) == {"GET", "HEAD"}
        assert behavior["CachePolicyId"] != CACHING_DISABLED


def test_the_path_function_redirects_the_page_directories_and_serves_their_index(cfn: Cfn) -> None:
    _, function = _one(cfn, "AWS::CloudFront::Function")
    code = function["Properties"]["FunctionCode"]
    assert "'/docs'" in code
    assert "'/console'" in code
    assert "'index.html'" in code
    assert function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    for behavior in (_distribution(cfn)["DefaultCacheBehavior"], _behavior(cfn, "/docs/*")):
        (association,) = behavior["FunctionAssociations"]
        assert association["EventType"] == "viewer-request"


# --- the headers are the declaration --------------------------------------------------------------


def _policy_of(cfn: Cfn, behavior: dict[str, Any]) -> dict[str, Any]:
    (policy,) = Cfn.refs(behavior["ResponseHeadersPolicyId"])
    return cfn.resources[policy]["Properties"]


def test_the_pages_headers_are_the_declared_ones(cfn: Cfn) -> None:
    declared = web.security_headers([web.cognito_endpoint(REGION)])
    for behavior in (_distribution(cfn)["DefaultCacheBehavior"], _behavior(cfn, "/v1/*")):
        assert served_headers(_policy_of(cfn, behavior)) == declared


def test_the_api_reference_headers_are_the_declared_ones(cfn: Cfn) -> None:
    declared = web.security_headers([web.cognito_endpoint(REGION)], api_reference=True)
    assert served_headers(_policy_of(cfn, _behavior(cfn, "/docs/*"))) == declared
    assert declared != web.security_headers([web.cognito_endpoint(REGION)])  # two policies, really


@pytest.mark.parametrize(("path", "pattern"), [("/docs/", "/docs/*"), ("/assets/api-docs.js", None)])
def test_the_local_gateway_sends_the_headers_cloudfront_sends(cfn: Cfn, path: str, pattern: str | None) -> None:
    """The local page server answers /docs/ and the reference's script with the distribution's headers for
    them, given the Cognito endpoint the deployed pages call (locally it is moto's; nothing else differs)."""
    behavior = _behavior(cfn, pattern) if pattern else _distribution(cfn)["DefaultCacheBehavior"]
    pages = Site(WebConfig(region=REGION, cognito_endpoint="", customer_pool=("p", "c"), staff_pool=("p", "c")))
    local = pages.handle(Request(EnvironBuilder(path=path).get_environ())).headers
    deployed = served_headers(_policy_of(cfn, behavior))
    assert {name: local[name] for name in deployed} == deployed


def test_headers_cloudfront_cannot_express_are_refused() -> None:
    declared = web.security_headers([web.cognito_endpoint(REGION)])
    with pytest.raises(ValueError, match="X-Frame-Options"):
        site.headers_behaviors({**declared, "X-Frame-Options": "ALLOW-FROM https://example.com"})
    with pytest.raises(ValueError, match="Strict-Transport-Security"):
        site.headers_behaviors({**declared, "Strict-Transport-Security": "max-age=10; bogus"})
    with pytest.raises(ValueError, match="X-XSS-Protection"):
        site.headers_behaviors({**declared, "X-XSS-Protection": "0"})
    with pytest.raises(ValueError, match="Referrer-Policy"):
        site.headers_behaviors({**declared, "Referrer-Policy": "nobody"})
    with pytest.raises(ValueError, match="custom headers"):
        site.headers_behaviors({**declared, **{f"X-Custom-{index}": "1" for index in range(10)}})
    with pytest.raises(ValueError, match="Content-Security-Policy"):
        site.headers_behaviors({**declared, "Content-Security-Policy": "default-src 'none'; " * 100})


# --- deployment: config.json, last, invalidation; the URL is an output ----------------------------


def test_config_json_carries_the_deploy_time_pool_ids_in_camel_case(cfn: Cfn, built: Path, tmp_path: Path) -> None:
    _, deployment = _one(cfn, "Custom::CDKBucketDeployment")
    markers = next(item for item in deployment["Properties"]["SourceMarkers"] if item)
    references = {json.dumps(value) for value in markers.values()}
    assert len(references) == 5
    assert any('"AWS::Region"' in item for item in references)
    # The same construct alone, staged, to read the file the deployment writes (with its markers).
    assembly = _alone(CustodyConfig(), built, outdir=tmp_path)
    template = json.loads((assembly / "Alone.template.json").read_text())
    (deployed,) = (res for res in template["Resources"].values() if res["Type"] == "Custom::CDKBucketDeployment")
    props = deployed["Properties"]
    (index,) = (i for i, item in enumerate(props["SourceMarkers"]) if item)
    staged = assembly / f"asset.{props['SourceObjectKeys'][index].removesuffix('.zip')}"
    text = (staged / web.CONFIG_PATH.lstrip("/")).read_text()
    for marker, value in props["SourceMarkers"][index].items():  # what the deployment substitutes
        (reference,) = [item for item in value["Fn::Join"][1] if isinstance(item, dict)]
        text = text.replace(marker, json.dumps(reference["Ref"]))
    settings = json.loads(text)
    assert set(settings) == {"region", "apiBase", "cognitoEndpoint", "customerPool", "staffPool"}
    assert (settings["apiBase"], settings["cognitoEndpoint"]) == ("", "")  # same origin, the pools' region
    assert settings["region"] == "AWS::Region"
    kinds = {"userPoolId": "AWS::Cognito::UserPool", "clientId": "AWS::Cognito::UserPoolClient"}
    for pool, construct in (("customerPool", "IdentityCustomers"), ("staffPool", "IdentityStaff")):
        assert set(settings[pool]) == set(kinds)
        for key, kind in kinds.items():
            logical = settings[pool][key]
            assert logical.startswith(construct), (pool, key)
            assert template["Resources"][logical]["Type"] == kind, (pool, key)


def test_the_deployment_invalidates_the_distribution_and_runs_last(cfn: Cfn) -> None:
    _lid, deployment = _one(cfn, "Custom::CDKBucketDeployment")
    distribution, _ = _one(cfn, "AWS::CloudFront::Distribution")
    assert Cfn.refs(deployment["Properties"]["DistributionId"]) == {distribution}
    assert deployment["Properties"]["DistributionPaths"] == ["/*"]
    (barrier,) = cfn.of_type("AWS::CloudFormation::WaitConditionHandle")
    assert barrier in as_list(deployment.get("DependsOn", []))


def test_the_deployment_may_only_sync_this_site_and_invalidate_this_distribution(cfn: Cfn) -> None:
    _lid, deployment = _one(cfn, "Custom::CDKBucketDeployment")
    (handler,) = Cfn.refs(deployment["Properties"]["ServiceToken"])
    (role,) = Cfn.refs(cfn.props(handler)["Role"])
    statements = cfn.policy_statements(role)
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert all("*" not in action for action in actions), actions
    (invalidate,) = (item for item in statements if "cloudfront:CreateInvalidation" in as_list(item["Action"]))
    distribution, _ = _one(cfn, "AWS::CloudFront::Distribution")
    assert Cfn.refs(invalidate["Resource"]) == {distribution}
    writes = [item for item in statements if "s3:PutObject" in as_list(item["Action"])]
    assert [Cfn.refs(item["Resource"]) for item in writes] == [{_site_bucket(cfn)}]


def test_the_site_url_is_an_output(synth: Synthesized) -> None:
    outputs = synth.cfn.template["Outputs"]
    (distribution,) = synth.cfn.of_type("AWS::CloudFront::Distribution")
    assert outputs["SiteUrl"]["Value"] == {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution, "DomainName"]}]]}


def test_synthesis_says_to_run_make_web_when_the_site_is_not_built(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run `make web`"):
        site.site_dir(tmp_path)
    (tmp_path / site.BUILT_MARKER).write_text("api-docs\n")
    assert site.site_dir(tmp_path) == tmp_path


# --- the custom domain, its certificate and a CloudFront web ACL are settings --------------------

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab"
WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/custody/1234abcd-aaaa-bbbb-cccc-1234567890ab"


def _alone(config: CustodyConfig, built: Path, outdir: Path | None = None) -> Path:
    """The Web construct in a stack of its own, synthesized (assets staged) into `outdir`."""
    app = App(outdir=str(outdir)) if outdir else App()
    stack = Stack(app, "Alone")
    api = apigateway.RestApi(stack, "Api", deploy_options=apigateway.StageOptions(stage_name=config.stage_name))
    api.root.add_resource("v1").add_method("GET", apigateway.MockIntegration())
    site.Web(
        stack,
        "Web",
        config=config,
        rest_api=api,
        identity=Identity(stack, "Identity", config=config),
        access_logs=s3.Bucket(stack, "Logs"),
        log_key=kms.Key(stack, "Key"),
        site=built,
    )
    return Path(app.synth().directory)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web")
    (root / site.BUILT_MARKER).write_text("api-docs\n")
    (root / "index.html").write_text("<!doctype html><title>t</title>")
    return root


def test_a_custom_domain_gets_its_certificate_tls_1_2_and_a_web_acl(built: Path) -> None:
    config = CustodyConfig(web_domain_name="privacy.example.com", web_certificate_arn=CERTIFICATE, web_acl_arn=WEB_ACL)
    template = json.loads((_alone(config, built) / "Alone.template.json").read_text())
    (distribution,) = (res for res in template["Resources"].values() if res["Type"] == "AWS::CloudFront::Distribution")
    settings = distribution["Properties"]["DistributionConfig"]
    assert settings["Aliases"] == ["privacy.example.com"]
    assert settings["ViewerCertificate"] == {
        "AcmCertificateArn": CERTIFICATE,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    assert settings["WebACLId"] == WEB_ACL


def test_the_web_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="together"):
        CustodyConfig(web_domain_name="privacy.example.com")
    with pytest.raises(ValueError, match="us-east-1"):
        CustodyConfig(
            web_domain_name="p.example.com", web_certificate_arn=CERTIFICATE.replace("us-east-1", "eu-west-1")
        )
    with pytest.raises(ValueError, match="us-east-1"):
        CustodyConfig(web_acl_arn=WEB_ACL.replace("wafv2", "waf"))
