"""Portable exports (GDPR art. 20, and art. 15(3)'s copy): requested here, written by the `exporter`.

A customer's export jobs live on their `subjects` record (`exports`: export id -> job), so they need
no table of their own and go with the record's tombstone when the customer is erased. A job holds
ids, statuses, times, counts, sizes and digests — never a value of the customer's.

A job moves `queued` (the request, `POST /v1/me/exports`) -> `running` (the exporter's intent) ->
`ready` or `failed`. What the customer is shown may say more than the stored status
(`ExportStatus`): a job past its deadline without an outcome is `failed` (the exporter was killed:
timeout, memory, or its invocation never ran), a ready one past its expiry is `expired`, and a
ready one whose consents moved since it was written is `superseded` (it no longer shows what is
held; a purpose erasure also deletes it).

Limits: one job in progress at a time (a request while one runs answers with that one), and at most
`Settings.export_daily_limit` started in any 24 hours, counting only those in progress or ready
(not failed, superseded or expired ones: found by a fresh break) — 429 with `Retry-After` beyond.
The limit is checked and the job added in one conditional write (`SubjectRegistry.start_export`),
so concurrent requests cannot pass it together.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from enum import StrEnum
from typing import Any, Final

from botocore.exceptions import ClientError

from custody.audit.ledger import AuditLedger, subject_chain
from custody.deadlines.register import RequestsRegister
from custody.declared import clock, datamap
from custody.declared.errors import NotFound, TooManyRequests
from custody.declared.jurisdictions import RequestKind
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo
from custody.stores.exports import ExportsBucket
from custody.stores.requests import DataRequest
from custody.stores.subjects import Subject, SubjectRegistry

WINDOW: Final = timedelta(hours=24)
# Lambda drops an asynchronous event older than the exporter's maximum event age (1 hour, set by
# the stack) and an invocation lasts at most its timeout (900 s): a job still queued after both
# never ran.
QUEUED_DEADLINE: Final = timedelta(hours=1, seconds=900)
_EXPORT_ID_LENGTH: Final = 36
STORE: Final = "exports"


class ExportStatus(StrEnum):
    """Where an export stands, as stored (`QUEUED`, `RUNNING`, `READY`, `FAILED`) or as shown (all)."""

    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"  # shown: ready, past its expiry (the archive's lifecycle rule deleted it)
    SUPERSEDED = "superseded"  # shown: ready, but the customer's consents moved since it was written


IN_PROGRESS: Final = frozenset({ExportStatus.QUEUED, ExportStatus.RUNNING})
# What the daily limit counts: exports the customer has or will have. A failed one gave them nothing,
# and a superseded one (their consents moved; a purpose withdrawal erased it) no longer serves.
COUNTED: Final = IN_PROGRESS | {ExportStatus.READY}


def expires_at(created_at: str) -> str:
    """When an export requested at `created_at` expires: `datamap.EXPORT_RETENTION_DAYS` later."""
    return clock.iso(clock.parse(created_at) + timedelta(days=datamap.EXPORT_RETENTION_DAYS))


def shown_status(job: dict[str, Any], subject: Subject, now: str) -> ExportStatus:
    """The status the customer sees of `job` at `now` (see the module docstring)."""
    status = ExportStatus(job["status"])
    if status in IN_PROGRESS and job.get("deadline", "") < now:
        return ExportStatus.FAILED
    if status is ExportStatus.READY:
        if job["expires_at"] < now:
            return ExportStatus.EXPIRED
        if int(job.get("consent_version", -1)) != subject.consent_version:
            return ExportStatus.SUPERSEDED
    return status


class Exports:
    """The customer's side of exports under `settings`: request one, read its status and download link.

    Raises `Forbidden` once the account's erasure has started. AWS errors pass through as botocore's
    `ClientError` (the API answers a throttled or failing service 503).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subjects = SubjectRegistry(settings)
        self.bucket = ExportsBucket(settings)
        self.audit = AuditLedger(settings)
        self.register = RequestsRegister(settings)

    def request(self, subject_id: str, address: str | None = None) -> tuple[dict[str, Any], bool]:
        """Start an export, or answer with the one in progress; returns (its view, whether it was started now).

        A new export is an access request in the register (`custody.deadlines.register`), recorded in the
        same write as the job, with its due date, and acknowledged to `address` (the caller's verified
        e-mail). Raises `TooManyRequests` when `export_daily_limit` exports started in the last 24 hours.
        """
        export_id = str(uuid.uuid4())
        subject, chosen, job, received = self.subjects.guarded(
            subject_id, lambda loaded: self._start(loaded, export_id)
        )
        created = received is not None
        if created:
            try:
                clients.lambda_().invoke(
                    FunctionName=self.settings.exporter_function_name,
                    InvocationType="Event",
                    Payload=json.dumps({"subject_id": subject_id, "export_id": chosen}).encode(),
                )
            except ClientError:
                # Not left queued for an hour, holding the customer's next request back.
                self.subjects.export_not_started(subject_id, chosen, "not_started")
                self.register.unanswered(chosen, "not_started")
                raise
            self.audit.record(
                step="export_requested",
                target=STORE,
                outcome="ok",
                actor="customer:api",
                subject_id=subject_id,
                request_id=chosen,
                chain_id=subject_chain(subject_id),
            )
        if received is not None:
            self.register.acknowledge(received, address)
        return self._view(subject, chosen, job), created

    def _start(self, subject: Subject, export_id: str) -> tuple[Subject, str, dict[str, Any], DataRequest | None]:
        """(the subject as read, the export's id, its job, the access request this call recorded or None)."""
        subject.ensure_active()
        now = clock.now_iso()
        running = self._in_progress(subject, now)
        if running is not None:
            return subject, running, subject.exports[running], None
        counted = sorted(
            job["created_at"]
            for job in subject.exports.values()
            if shown_status(job, subject, now) in COUNTED and job["created_at"] > clock.iso(clock.now() - WINDOW)
        )
        if len(counted) >= self.settings.export_daily_limit:
            frees_at = clock.parse(counted[0]) + WINDOW
            raise TooManyRequests(
                f"At most {self.settings.export_daily_limit} exports can be started in 24 hours.",
                int((frees_at - clock.now()).total_seconds()) + 1,
                {"limit": self.settings.export_daily_limit, "available_at": clock.iso(frees_at)},
            )
        keep_after = clock.iso(clock.now() - timedelta(days=datamap.EXPORT_RETENTION_DAYS + 1))
        jobs = {key: job for key, job in subject.exports.items() if job["created_at"] > keep_after}
        jobs[export_id] = {
            "status": ExportStatus.QUEUED.value,
            "created_at": now,
            "updated_at": now,
            "deadline": clock.iso(clock.parse(now) + QUEUED_DEADLINE),
            "expires_at": expires_at(now),
        }
        request, received = self.register.receive(RequestKind.ACCESS, export_id, subject.subject_id)
        dynamo.transact([self.subjects.start_export(subject, jobs, export_id), received])
        # What the write changed on the record (the jobs, activity) is not what a view reads of it.
        return subject, export_id, jobs[export_id], request

    @staticmethod
    def _in_progress(subject: Subject, now: str) -> str | None:
        for export_id, job in subject.exports.items():
            if shown_status(job, subject, now) in IN_PROGRESS:
                return export_id
        return None

    def status(self, subject_id: str, export_id: str) -> dict[str, Any]:
        """The export's view; a ready one carries a fresh presigned download URL. `NotFound` for no such export."""
        subject = self.subjects.load(subject_id)
        subject.ensure_active()
        job = subject.exports.get(export_id) if len(export_id) == _EXPORT_ID_LENGTH else None
        if job is None:
            raise NotFound("No such export.")
        return self._view(subject, export_id, job)

    def list(self, subject_id: str) -> list[dict[str, Any]]:
        """Every export the customer has (newest first), without download URLs."""
        subject = self.subjects.load(subject_id)
        subject.ensure_active()
        jobs = sorted(subject.exports.items(), key=lambda pair: pair[1]["created_at"], reverse=True)
        return [self._view(subject, export_id, job, with_link=False) for export_id, job in jobs]

    def _view(self, subject: Subject, export_id: str, job: dict[str, Any], *, with_link: bool = True) -> dict[str, Any]:
        now = clock.now_iso()
        status = shown_status(job, subject, now)
        view: dict[str, Any] = {
            "export_id": export_id,
            "status": status.value,
            "created_at": job["created_at"],
            "updated_at": job.get("updated_at", job["created_at"]),
            "expires_at": job["expires_at"],
            "status_url": f"/v1/me/exports/{export_id}",
            "size_bytes": job.get("size_bytes"),
            "manifest_sha256": job.get("manifest_sha256"),
            "counts": job.get("counts"),
            "failure": None,
            "download": None,
        }
        if status is ExportStatus.FAILED:
            # Stored as failed: the job's own reason; shown failed past its deadline: Lambda ended it.
            view["failure"] = job.get("failure") if job["status"] == ExportStatus.FAILED else "timed_out"
        if with_link and status is ExportStatus.READY:
            seconds = self.settings.export_link_seconds
            name = f"crm-custody-export-{job['created_at'][:10]}.zip"
            view["download"] = {
                "url": self.bucket.download_url(subject.subject_id, export_id, name, seconds),
                "expires_at": clock.iso(clock.now() + timedelta(seconds=seconds)),
            }
        return view
