"""The typed contract between the erasure state machine and its steps.

Each step's input is what `statemachines/erasure.asl.json` puts into its `Payload`, and its
output what the state's `ResultSelector` reads. Inputs carry ids, category and store names,
counts and a task token; outputs carry counts and statuses — never a personal value, because
Step Functions keeps its history for 90 days and it cannot be edited. A field the contract does
not declare, a missing one or a value of the wrong shape is refused (`pydantic.ValidationError`)
before the step runs: a reason can never default to a full erasure, a scope never hold a name
the data map does not know.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from custody.declared import datamap, workflow
from custody.declared.ids import is_uuid
from custody.stores.requests import FULL_ERASURE_REASONS, ErasureReason, ProcessorOutcome


def _uuid(value: str) -> str:
    if not is_uuid(value):
        raise ValueError("must be a canonical UUID")
    return value


def _category(value: str) -> str:
    if value not in {category.name for category in datamap.CATEGORIES}:
        raise ValueError("must be a category of the data map")
    return value


def _store(value: str) -> str:
    if value not in {store.name for store in datamap.erasable_stores()}:
        raise ValueError("must be an erasable store of the data map")
    return value


Id = Annotated[str, AfterValidator(_uuid)]
Category = Annotated[str, AfterValidator(_category)]
StoreName = Annotated[str, AfterValidator(_store)]
Count = Annotated[int, Field(ge=0)]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepInput(Contract):
    """Every step: which request, of which subject."""

    request_id: Id
    subject_id: Id


class PlannedInput(StepInput):
    """A step after Freeze: the reason and scope Freeze read from the request, carried in the state."""

    reason: ErasureReason
    scope: tuple[Category, ...]

    @property
    def full(self) -> bool:
        """Whether the request erases the customer entirely (`stores.requests.FULL_ERASURE_REASONS`)."""
        return self.reason in FULL_ERASURE_REASONS


# --- Freeze ---------------------------------------------------------------------------------


class FreezeInput(StepInput):
    step: Literal["freeze"]


class FreezeOutput(Contract):
    stores: tuple[StoreName, ...]  # the stores in scope: the Map's items
    scope: tuple[Category, ...]
    reason: ErasureReason
    status: Literal["frozen"] = "frozen"


# --- EraseStore (one iteration of the Map, looping while `more`) -----------------------------


class EraseStoreInput(PlannedInput):
    step: Literal["erase_store"]
    store: StoreName
    erased_before: Count = 0  # this run's running total for the store


class EraseStoreOutput(Contract):
    store: StoreName
    deleted: Count  # items or object versions deleted by this batch
    erased: Count  # the running total
    more: bool


# --- ListProcessors, AskProcessor, RecordProcessorOutcome --------------------------------------


class StoreTotal(Contract):
    store: StoreName
    deleted: Count
    erased: Count
    more: bool


class ListProcessorsInput(PlannedInput):
    step: Literal["list_processors"]
    execution: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]
    round: Count
    erased: tuple[StoreTotal, ...]


class ProcessorToAsk(Contract):
    processor_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
    timeout_seconds: Annotated[int, Field(ge=1)]
    deadline: str


class ListProcessorsOutput(Contract):
    processors: tuple[ProcessorToAsk, ...]
    notified: Count


class AskProcessorInput(StepInput):
    step: Literal["ask_processor"]
    processor_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
    deadline: str
    task_token: Annotated[str, Field(min_length=1, max_length=2048)]


class AskProcessorOutput(Contract):
    asked: Count


class RecordProcessorOutcomeInput(StepInput):
    step: Literal["record_processor_outcome"]
    processor_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
    outcome: Literal[ProcessorOutcome.CONFIRMED, ProcessorOutcome.UNCONFIRMED]


class RecordProcessorOutcomeOutput(Contract):
    confirmed: Count
    unconfirmed: Count


# --- ShredKey, DeleteIdentity, Verify --------------------------------------------------------


class ShredKeyInput(PlannedInput):
    step: Literal["shred_key"]


class ShredKeyOutput(Contract):
    shredded: bool


class DeleteIdentityInput(PlannedInput):
    step: Literal["delete_identity"]


class DeleteIdentityOutput(Contract):
    deleted: bool


class VerifyInput(PlannedInput):
    step: Literal["verify"]


class VerifyOutput(Contract):
    residual: Literal[0] = 0


# --- Certify, RecordFailure ----------------------------------------------------------------


class CertifyInput(StepInput):
    step: Literal["certify"]
    execution_arn: Annotated[str, Field(min_length=1, max_length=2048)]


class CertifyOutput(Contract):
    status: Literal["completed"]
    certificate_digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class RecordFailureInput(StepInput):
    step: Literal["record_failure"]
    error: Annotated[str, Field(max_length=256)] | None = None


class RecordFailureOutput(Contract):
    status: Literal["failed"]


StepEvent = Annotated[
    FreezeInput
    | EraseStoreInput
    | ListProcessorsInput
    | AskProcessorInput
    | RecordProcessorOutcomeInput
    | ShredKeyInput
    | DeleteIdentityInput
    | VerifyInput
    | CertifyInput
    | RecordFailureInput,
    Field(discriminator="step"),
]

INPUTS: dict[str, type[StepInput]] = {
    workflow.FREEZE: FreezeInput,
    workflow.ERASE_STORE: EraseStoreInput,
    workflow.LIST_PROCESSORS: ListProcessorsInput,
    workflow.ASK_PROCESSOR: AskProcessorInput,
    workflow.RECORD_PROCESSOR_OUTCOME: RecordProcessorOutcomeInput,
    workflow.SHRED_KEY: ShredKeyInput,
    workflow.DELETE_IDENTITY: DeleteIdentityInput,
    workflow.VERIFY: VerifyInput,
    workflow.CERTIFY: CertifyInput,
    workflow.RECORD_FAILURE: RecordFailureInput,
}
