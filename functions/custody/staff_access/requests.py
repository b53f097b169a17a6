"""Staff's side of the requests register: a privacy officer extends a request; officers and auditors list them.

The register itself is `custody.deadlines.register`; this module states who may use it, as the
catalog's routes do (`catalog.ROUTES`): extending is a privacy officer's decision
(`StaffMember.require_privacy_officer`, whichever entry point calls it), listing is open to privacy
officers and auditors, and shows ids, kinds, statuses and dates only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
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
# A period of receipt is read whole (the register's Query per status): at most a year and a day.
MAX_PERIOD_DAYS: Final = 367


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
        self,
        staff: StaffMember,
        now: datetime,
        within_days: int | None,
        kind: str | None,
        received: tuple[str | None, str | None] = (None, None),
    ) -> dict[str, Any]:
        """The open requests and the due counts; or every request received in a period.

        Open: soonest due first, only those due within `within_days` when given. With `received` (first
        and last day, `YYYY-MM-DD`, UTC): every request received in that period, of any status, oldest
        first — the register an auditor reads (what `custody requests register` prints).

        Raises `Forbidden` unless `staff` is a privacy officer or an auditor, `InvalidInput` for a
        window outside 0 to `MAX_WITHIN_DAYS` days, an unknown kind, or a period that is not two dates
        in order at most `MAX_PERIOD_DAYS` days apart.
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
        period = _period(*received)
        if period is None:
            entries = self.register.open_entries(now, within_days=within_days, kinds=kinds)
        else:
            since, until = period
            entries = [entry for entry in self.register.entries(since, until, now) if entry["kind"] in kinds]
        return {
            "now": clock.iso(now),
            "due_within_days": within_days,
            "received_since": received[0] if period else None,
            "received_until": received[1] if period else None,
            "overdue": counts.overdue,
            "due_soon": counts.due_soon,
            "warning_days": self.register.settings.request_due_warning_days,
            "requests": entries,
        }


def _period(since: str | None, until: str | None) -> tuple[datetime, datetime] | None:
    """The period of receipt `[since 00:00, until 24:00)` UTC, or None when neither day is given."""
    if since is None and until is None:
        return None
    first: date | None
    last: date | None
    try:
        first, last = date.fromisoformat(since or ""), date.fromisoformat(until or "")
    except ValueError:
        first = last = None
    if first is None or last is None or not timedelta(0) <= last - first < timedelta(days=MAX_PERIOD_DAYS):
        raise InvalidInput(
            "A period of receipt is two days, in order, at most a year and a day apart.",
            {
                "fields": [
                    {"field": name, "reason": f"a date YYYY-MM-DD, at most {MAX_PERIOD_DAYS} days from the other"}
                    for name in ("received_since", "received_until")
                ]
            },
        )
    start = datetime.combine(first, time.min, tzinfo=UTC)
    return start, datetime.combine(last, time.min, tzinfo=UTC) + timedelta(days=1)
