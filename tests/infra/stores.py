"""Where the data map's stores and the keys are in the synthesized template."""

from __future__ import annotations

from custody.declared import datamap
from custody.declared.datamap import Classification
from infra.constructs.data import CLASSIFICATION_TAG, STORE_TAG
from tests.infra.conftest import Cfn

TABLE, BUCKET = "AWS::DynamoDB::Table", "AWS::S3::Bucket"
PERSONAL_CLASSES = {Classification.PERSONAL.value, Classification.KEY_MATERIAL.value}


def store_ids(cfn: Cfn, cfn_type: str) -> dict[str, str]:
    """store name -> logical id, from the `custody:store` tag."""
    return {name: lid for lid, name in cfn.tagged(cfn_type, STORE_TAG).items()}


def classified(cfn: Cfn, cfn_type: str, classes: set[str]) -> dict[str, str]:
    """logical id -> store name, for resources whose classification is in `classes`."""
    tags = cfn.tagged(cfn_type, CLASSIFICATION_TAG)
    names = cfn.tagged(cfn_type, STORE_TAG)
    return {lid: names[lid] for lid, value in tags.items() if value in classes}


def personal_resource_ids(cfn: Cfn) -> set[str]:
    return set(classified(cfn, TABLE, PERSONAL_CLASSES)) | set(classified(cfn, BUCKET, PERSONAL_CLASSES))


def key_id(cfn: Cfn, logical: str, prefix: str) -> str:
    """The KMS key behind `alias/<prefix>-<logical>`."""
    for alias in cfn.of_type("AWS::KMS::Alias").values():
        if alias["Properties"]["AliasName"] == f"alias/{prefix}-{logical}":
            (target,) = Cfn.refs(alias["Properties"]["TargetKeyId"])
            return target
    raise KeyError(logical)


def table_id(cfn: Cfn, name: str) -> str:
    return store_ids(cfn, TABLE)[name]


def bucket_id(cfn: Cfn, name: str) -> str:
    return store_ids(cfn, BUCKET)[name]


def shredded_tables() -> set[str]:
    return {store.name for store in datamap.table_stores() if store.erasure is datamap.Erasure.SHRED}
