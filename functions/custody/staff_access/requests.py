"""Staff's side of the requests register: a privacy officer extends a request; officers and auditors list them.

The register itself is `custody.deadlines.register`; this module states who may use it, as the
catalog's routes do (`catalog.ROUTES`): extending is a privacy officer's decision
(`StaffMember.require_privacy_officer`, whichever entry point calls it), listing is open to privacy
officers and auditors, and shows ids, kinds, statuses and dates only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from custody.access_control.principals import StaffMember
from custody.deadlines.register import RequestsRegister
from custody.declared import clock
from custody.declared.errors import Forbidden, InvalidInput, NotFound
from custody.declared.ids import is_uuid
from custody.declared.jurisdictions import RequestKind
from custody.declared.settings import Settings

AUDITOR: Final = "auditor"
MAX_WITHIN_DAYS: Final = 366


class StaffRequests:
    """The register as staff use it under `settings` (errors as `RequestsRegister` raises them)."""

    def __init__(self, settings: Settings) -> None:
        self.register = RequestsRegister(settings)

    def extend(self, staff: StaffMember, request_id: str, reason: str) -> dict[str, Any]:
        """Extend the request's period once for `reason` (a declared code); returns the register's line.

        Raises `Forbidden` unless `staff` is a privacy officer, `NotFound` for an id that is no request's
        (a malformed one included), and whatever `RequestsRegister.extend` raises; nothing is written then.
        """
        staff.require_privacy_officer()
        if not is_uuid(request_id):
            raise NotFound("No such request.")
        return self.register.extend(request_id, reason, staff.staff_id)

    def open_requests(
        self, staff: StaffMember, now: datetime, within_days: int | None, kind: str | None
    ) -> dict[str, Any]:
        """The open requests (soonest due first; only those due within `within_days` when given) and the due counts.

        Raises `Forbidden` unless `staff` is a privacy officer or an auditor, `InvalidInput` for a
        window outside 0 to `MAX_WITHIN_DAYS` days or an unknown kind.
        """
        if not (staff.is_privacy_officer or AUDITOR in staff.groups):
            raise Forbidden("Only privacy officers and auditors read the requests register.")
        if within_days is not None and not 0 <= within_days <= MAX_WITHIN_DAYS:
            raise InvalidInput(
                "The window is a number of days.",
                {"fields": [{"field": "due_within_days", "reason": f"must be 0 to {MAX_WITHIN_DAYS}"}]},
            )
        kinds = tuple(RequestKind)
        if kind is not None:
            if kind not in {item.value for item in RequestKind}:
                raise InvalidInput(
                    "Unknown kind of request.",
                    {"fields": [{"field": "kind", "reason": f"must be one of {[item.value for item in RequestKind]}"}]},
                )
            kinds = (RequestKind(kind),)
        counts = self.register.due_counts(now)
        return {
            "now": clock.iso(now),
            "due_within_days": within_days,
            "overdue": counts.overdue,
            "due_soon": counts.due_soon,
            "warning_days": self.register.settings.request_due_warning_days,
            "requests": self.register.open_entries(now, within_days=within_days, kinds=kinds),
        }
