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
    """Base of every step's input and output: frozen, and a field it does not declare is refused."""

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

    @property
    def ends_retention(self) -> bool:
        """Whether the request erases what legal obligations kept after the customer's full erasure."""
        return self.reason is ErasureReason.RETENTION_OBLIGATION_ENDED


# --- Freeze ---------------------------------------------------------------------------------


class FreezeInput(StepInput):
    """Freeze's input (state `Freeze`): the request and subject ids of the execution's input."""

    step: Literal["freeze"]


class FreezeOutput(Contract):
    """What Freeze returns; the state keeps it as `$.plan` (with `rounds`, starting at 0).

    `stores` are the erasable stores holding a category of the scope, which `EraseStores` erases in order;
    `scope` (sorted) and `reason` are read from the request record; `status` is always `frozen`.
    """

    stores: tuple[StoreName, ...]  # the stores in scope, in the order EraseStores erases them
    scope: tuple[Category, ...]
    reason: ErasureReason
    status: Literal["frozen"] = "frozen"


# --- EraseStores ----------------------------------------------------------------------------

ExecutionName = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]


class EraseStoresInput(PlannedInput):
    """EraseStores' input (state `EraseStores`): the plan, its stores, and where in the execution it runs.

    `stores` are Freeze's (`$.plan.stores`); `execution` the execution's name (`$$.Execution.Name`) and
    `round` its erasure round (`$.plan.rounds`), which key the totals a paused run saves; `attempt` is the
    state's `$$.State.RetryCount`: above 0, the step resumes from those totals.
    """

    step: Literal["erase_stores"]
    stores: tuple[StoreName, ...]
    execution: ExecutionName
    round: Count
    attempt: Count = 0


class StoreTotal(Contract):
    """One store's total in a round: items or object versions the round erased from it."""

    store: StoreName
    erased: Count


class EraseStoresOutput(Contract):
    """What EraseStores returns; the state keeps it as `$.erased`: each store's total, and their sum."""

    stores: tuple[StoreTotal, ...]
    erased: Count


# --- ListProcessors, AskProcessor, RecordProcessorOutcome --------------------------------------


class ListProcessorsInput(PlannedInput):
    """ListProcessors' input (state `NotifyProcessors`), after `EraseStores`: the plan."""

    step: Literal["list_processors"]


class ProcessorToAsk(Contract):
    """One sub-processor to ask: an item of the `NotifyEachProcessor` Map, produced by ListProcessors.

    `processor_id` is its registry id; `timeout_seconds` bounds the wait for its acknowledgement (the
    AskProcessor Task's `TimeoutSecondsPath`); `deadline` is when that wait ends, in the one timestamp
    format, and is sent to the processor.
    """

    processor_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
    timeout_seconds: Annotated[int, Field(ge=1)]
    deadline: str


class ListProcessorsOutput(Contract):
    """What ListProcessors returns; the state keeps it as `$.processors`: whom to ask, and how many (`notified`)."""

    processors: tuple[ProcessorToAsk, ...]
    notified: Count


class AskProcessorInput(StepInput):
    """AskProcessor's input: a `lambda:invoke.waitForTaskToken` Task, one per processor to ask.

    `task_token` is the Task's `$$.Task.Token`; the processor hands it back on the acknowledgement
    route, whose `SendTaskSuccess` output becomes the Task's result. `deadline` is the one the processor
    is told.
    """

    step: Literal["ask_processor"]
    processor_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
    deadline: str
    task_token: Annotated[str, Field(min_length=1, max_length=2048)]


class AskProcessorOutput(Contract):
    """What AskProcessor's Lambda returns (`asked`: 1).

    A `waitForTaskToken` Task's result is the output `SendTaskSuccess` sends, not this; the step's audit
    event counts it.
    """

    asked: Count


class RecordProcessorOutcomeInput(StepInput):
    """RecordProcessorOutcome's input (states `RecordConfirmed` and `RecordUnconfirmed`).

    `confirmed` when the acknowledgement named this processor and request; `unconfirmed` when the wait
    timed out or failed, or the acknowledgement named another.
    """

    step: Literal["record_processor_outcome"]
    processor_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
    outcome: Literal[ProcessorOutcome.CONFIRMED, ProcessorOutcome.UNCONFIRMED]


class RecordProcessorOutcomeOutput(Contract):
    """What RecordProcessorOutcome returns: 1 in the outcome recorded, 0 in the other (audit counts only)."""

    confirmed: Count
    unconfirmed: Count


# --- ShredKey, DeleteIdentity, Verify --------------------------------------------------------


class ShredKeyInput(PlannedInput):
    """ShredKey's input (state `ShredKey`): the plan; only a full erasure shreds the key."""

    step: Literal["shred_key"]


class ShredKeyOutput(Contract):
    """What ShredKey returns; the state keeps it as `$.shred`: whether this run deleted a key version."""

    shredded: bool


class DeleteIdentityInput(PlannedInput):
    """DeleteIdentity's input (state `DeleteIdentity`): the plan; only a full erasure deletes the Cognito user."""

    step: Literal["delete_identity"]


class DeleteIdentityOutput(Contract):
    """What DeleteIdentity returns; the state keeps it as `$.identity`: whether this run deleted the user."""

    deleted: bool


class VerifyInput(PlannedInput):
    """Verify's input (state `Verify`): the plan whose stores, key and identity are checked."""

    step: Literal["verify"]


class VerifyOutput(Contract):
    """What Verify returns when nothing remains (`residual` is always 0); otherwise it raises `ResidualDataFound`."""

    residual: Literal[0] = 0


# --- Certify, RecordFailure ----------------------------------------------------------------


class CertifyInput(StepInput):
    """Certify's input (state `Certify`): the ids and the execution's ARN (`$$.Execution.Id`) it cites."""

    step: Literal["certify"]
    execution_arn: Annotated[str, Field(min_length=1, max_length=2048)]


class CertifyOutput(Contract):
    """What Certify returns; the state keeps it as `$.certificate`: `completed` and the certificate's SHA-256 (hex).

    `notices_sent` (1 or 0) counts the completion notice this run sent, for the ledger; the state does not keep it.
    """

    status: Literal["completed"]
    certificate_digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    notices_sent: Count = 0


class RecordFailureInput(StepInput):
    """RecordFailure's input (state `RecordFailure`): the name of the error that failed the run.

    The run's Catch blocks put the error at `$.error`, and the state passes `$.error.Error` (after
    three rounds with residual data, `ResidualDataFound`). Optional; at most 256 characters, of which
    the request keeps 100.
    """

    step: Literal["record_failure"]
    error: Annotated[str, Field(max_length=256)] | None = None


class RecordFailureOutput(Contract):
    """What RecordFailure returns (`failed`); the state discards it and alarms."""

    status: Literal["failed"]


StepEvent = Annotated[
    FreezeInput
    | EraseStoresInput
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
    workflow.ERASE_STORES: EraseStoresInput,
    workflow.LIST_PROCESSORS: ListProcessorsInput,
    workflow.ASK_PROCESSOR: AskProcessorInput,
    workflow.RECORD_PROCESSOR_OUTCOME: RecordProcessorOutcomeInput,
    workflow.SHRED_KEY: ShredKeyInput,
    workflow.DELETE_IDENTITY: DeleteIdentityInput,
    workflow.VERIFY: VerifyInput,
    workflow.CERTIFY: CertifyInput,
    workflow.RECORD_FAILURE: RecordFailureInput,
}
