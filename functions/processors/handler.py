"""The `processors` function: the sub-processor registry, disclosures and erasure acknowledgements."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from custody.access_control.principals import processor_principal, staff_member
from custody.api.http import build_resolver, caller, entrypoint
from custody.declared.settings import get_settings
from custody.platform.observability import observability
from custody.subprocessors.acknowledgements import ErasureAcks
from custody.subprocessors.disclosures import Disclosures
from custody.subprocessors.registry import PROCESSOR_ID_PATTERN, AgreementTerms, ProcessorRegistry
from processors.schemas import (
    AgreementIn,
    AgreementList,
    AgreementOut,
    DisclosureIn,
    DisclosureOut,
    ErasureAckIn,
    ErasureAckOut,
)

obs = observability("processors")
app = build_resolver("processors")


@app.get("/v1/staff/processors")
def list_processors() -> AgreementList:
    return AgreementList(processors=ProcessorRegistry(get_settings()).list())


@app.put("/v1/staff/processors/<processor_id>")
def put_processor(processor_id: Annotated[str, Path(pattern=PROCESSOR_ID_PATTERN)], body: AgreementIn) -> AgreementOut:
    registry = ProcessorRegistry(get_settings())
    terms = AgreementTerms.model_validate(body.model_dump(exclude={"rotate_signing_secret"}))
    agreement = registry.put(staff_member(caller(app)), processor_id, terms)
    secret = registry.issue_signing_secret(agreement, rotate=body.rotate_signing_secret)
    return AgreementOut(**agreement.model_dump(), signing_secret=secret)


@app.post("/v1/staff/customers/<customer_id>/disclosures", responses={201: {"description": "Disclosure recorded"}})
def disclose(
    customer_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,128}$")], body: DisclosureIn
) -> Response[DisclosureOut]:
    recorded = Disclosures(get_settings()).disclose(
        staff_member(caller(app)), customer_id, body.processor_id, body.categories
    )
    return Response(status_code=201, content_type="application/json", body=DisclosureOut.model_validate(recorded))


@app.post("/v1/processors/erasure-acks")
def acknowledge_erasure(body: ErasureAckIn) -> ErasureAckOut:
    done = ErasureAcks(get_settings()).acknowledge(
        processor_principal(caller(app)), body.processor_id, body.request_id, body.task_token
    )
    return ErasureAckOut.model_validate(done)


lambda_handler = entrypoint(app, obs)
