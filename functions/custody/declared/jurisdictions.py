"""When a data subject's request falls due: the kinds of request, and each jurisdiction's periods.

Every data-subject request (`RequestKind`) is recorded when it is received and given the date it is
due under the jurisdiction the deployment serves (`Settings.jurisdiction`, CDK context
`custody:jurisdiction`). The jurisdiction is written on the request with its dates, so a later change
of the setting moves no deadline already given.

Dates are days in UTC (the one clock, `custody.declared.clock`): a request is due at the end of its
last day, `23:59:59.999Z` (`due_at`). Both laws exclude the day of receipt and count from the next:

* **GDPR** (`gdpr`): "without undue delay and in any event within one month of receipt of the
  request. That period may be extended by two further months where necessary, taking into account
  the complexity and number of the requests. The controller shall inform the data subject of any such
  extension within one month of receipt of the request, together with the reasons for the delay"
  (Regulation (EU) 2016/679, Art. 12(3)). A month is counted as Regulation (EEC, Euratom) No 1182/71
  counts it: the day of the event is not in the period (Art. 3(1)), and a period in months ends with
  the last hour of the day in the last month that has the same date as the day it runs from — or of
  the last day of that month when it has no such date (Art. 3(2)(c)): received 15 January, due
  15 February; received 31 January, due 28 February (29 in a leap year). The extension's two months
  run on from the end of the first (31 January -> 28 February -> 28 April): never later than three
  months from receipt (30 April), which is the other reading. Art. 3(4) moves a period that ends on a
  Saturday, Sunday or public holiday to the next working day; that is not applied here (public
  holidays differ by Member State), so a due date is never later than the law's.
* **CCPA/CPRA** (`ccpa`): "within 45 days of receiving a verifiable consumer request ... The time
  period ... may be extended once by an additional 45 days when reasonably necessary, provided the
  consumer is provided notice of the extension within the first 45-day period" (Cal. Civ. Code
  § 1798.130(a)(2)); "the time in which any act provided by law is to be done is computed by
  excluding the first day, and including the last" (Cal. Civ. Code § 10). Received 1 January, due
  15 February; extended, 1 April: 90 days in all, as the regulations' "maximum total of 90 calendar
  days" (Cal. Code Regs. tit. 11, § 7021(b)).
* **default** (`default`): where no law is configured, 28 days without extension — never later than
  GDPR's shortest month or CCPA's 45 days.

An extension is allowed once, before the request falls due (both laws require the notice within the
first period), for a reason from `EXTENSION_REASONS` that the jurisdiction admits: a declared code,
never staff's free text, so the requests table, the audit ledger and the notice hold no personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from dateutil.relativedelta import relativedelta


class RequestKind(StrEnum):
    """The data subject's rights whose requests are recorded, given a due date and answered.

    `access`: a copy of everything held (GDPR art. 15 and 20; the portable export); `rectification`:
    a verified field changed after review (art. 16); `erasure`: withdrawal of consent or of a purpose
    (art. 17); `restriction`: processing restricted (art. 18).
    """

    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"


@dataclass(frozen=True)
class Period:
    """A legal period: whole calendar months, or whole days (one of the two, at least one unit).

    Raises `ValueError` for a negative, empty or mixed period.
    """

    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        if self.months < 0 or self.days < 0 or (self.months > 0) == (self.days > 0):
            raise ValueError("A period is a positive number of months or of days, not both.")

    def last_day(self, first_excluded: date) -> date:
        """The period's last day when it runs from `first_excluded`, a day not counted in it.

        Months: the same date so many months later, or the last day of that month when it has no such
        date (`relativedelta` clamps exactly so; Regulation 1182/71 Art. 3(2)(c)). Days: so many days
        later (Cal. Civ. Code § 10).
        """
        return first_excluded + relativedelta(months=self.months, days=self.days)

    def describe(self) -> str:
        """The period in words, as a notice or the register states it: `one month`, `2 months`, `45 days`."""
        count, unit = (self.months, "month") if self.months else (self.days, "day")
        return f"one {unit}" if count == 1 else f"{count} {unit}s"


@dataclass(frozen=True)
class ExtensionReason:
    """Why a request's period is extended: a declared code and the sentence the customer is told."""

    code: str
    description: str


EXTENSION_REASONS: Final[Mapping[str, ExtensionReason]] = MappingProxyType(
    {
        reason.code: reason
        for reason in (
            ExtensionReason(
                "complexity", "Your request is complex: answering it in full needs more time than the first period."
            ),
            ExtensionReason(
                "volume", "We have received a large number of requests and need more time to answer yours in full."
            ),
        )
    }
)


@dataclass(frozen=True)
class Jurisdiction:
    """One law's rules for answering a request: the first period, the one extension and its reasons.

    `extension` is None where none is allowed; `reasons` are the codes of `EXTENSION_REASONS` the law
    admits; `source` and `extension_source` cite the law.
    """

    code: str
    name: str
    response: Period
    extension: Period | None
    reasons: tuple[str, ...]
    source: str
    extension_source: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.reasons) - set(EXTENSION_REASONS)
        if unknown or (self.extension is None) != (not self.reasons):
            raise ValueError(f"{self.code}: an extension names its reasons, from EXTENSION_REASONS only")

    def due_at(self, received_at: datetime) -> datetime:
        """When a request received at `received_at` (aware) falls due: the end of the period's last day, UTC.

        Raises `ValueError` for a naive moment.
        """
        return end_of_day(self.response.last_day(utc_day(received_at)))

    def extended_due_at(self, due_at: datetime) -> datetime:
        """The due moment after the one extension, from the first period's due moment (aware).

        The extension runs on from the day the first period ends. Raises `ExtensionNotAllowed` when
        the law allows none, `ValueError` for a naive moment.
        """
        if self.extension is None:
            raise ExtensionNotAllowed(self.code)
        return end_of_day(self.extension.last_day(utc_day(due_at)))


class ExtensionNotAllowed(ValueError):
    """The jurisdiction allows no extension (names the jurisdiction's code only)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"The {code} policy allows no extension.")
        self.code = code


def _gdpr(code: str, name: str) -> Jurisdiction:
    """GDPR's rule under `code`: one month, extendable once by two further months (art. 12(3))."""
    return Jurisdiction(
        code,
        name,
        Period(months=1),
        Period(months=2),
        ("complexity", "volume"),
        "Regulation (EU) 2016/679, Art. 12(3); months per Regulation (EEC, Euratom) No 1182/71, Art. 3",
        "Regulation (EU) 2016/679, Art. 12(3): by two further months, the data subject informed within "
        "the first month with the reasons",
    )


JURISDICTIONS: Final[Mapping[str, Jurisdiction]] = MappingProxyType(
    {
        item.code: item
        for item in (
            _gdpr("gdpr", "GDPR"),
            # EU member states: GDPR's periods for requests; the code also picks the member state's periods
            # for records a legal obligation keeps (datamap.OBLIGATIONS: HGB/AO, Code de commerce).
            _gdpr("de", "GDPR (Germany)"),
            _gdpr("fr", "GDPR (France)"),
            Jurisdiction(
                "ccpa",
                "CCPA/CPRA",
                Period(days=45),
                Period(days=45),
                ("complexity", "volume"),
                "Cal. Civ. Code § 1798.130(a)(2); days per Cal. Civ. Code § 10",
                "Cal. Civ. Code § 1798.130(a)(2): once by 45 days when reasonably necessary, the consumer "
                "notified within the first 45-day period",
            ),
            Jurisdiction(
                "default",
                "the default policy",
                Period(days=28),
                None,
                (),
                "CRM Custody's default where no law is configured: never later than GDPR's or the CCPA's period",
            ),
        )
    }
)
DEFAULT_JURISDICTION: Final = "gdpr"


def jurisdiction(code: str) -> Jurisdiction:
    """The declared jurisdiction of `code`; raises `KeyError` when none is declared."""
    return JURISDICTIONS[code]


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of an aware moment; raises `ValueError` for a naive one."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no day: its zone is unknown")
    return moment.astimezone(UTC).date()


def end_of_day(day: date) -> datetime:
    """The last millisecond of `day` in UTC (what the one timestamp format can hold)."""
    return datetime.combine(day, time(23, 59, 59, 999_000), tzinfo=UTC)
