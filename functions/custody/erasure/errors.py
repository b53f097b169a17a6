"""What an erasure step raises for the state machine to see by name (an error's class is the error name).

`TransientError` is retried by every Task's `Retry`; `UploadsInFlight` by Verify's own, spaced to
outlast an upload's deadline; `StoresNotFinished` by EraseStores' own, which resumes the run;
`ResidualDataFound` sends the run round again; anything else is caught, recorded (`RecordFailure`)
and alarmed — `RequestHeld` (a held request started by hand) and `RetainedKeyLost` among them.
"""

from __future__ import annotations


class ErasureError(Exception):
    """A step failed in a way the workflow must see by name."""


class ResidualDataFound(ErasureError):
    """Verification found data the erasure should have removed."""


class TransientError(ErasureError):
    """A batch was only partly processed after retries, or AWS kept failing: the state's Retry runs it again."""


class RequestNotFound(ErasureError):
    """The event names no erasure request of that subject."""


class UploadsInFlight(ErasureError):
    """An upload that began before the erasure may still land: Verify waits for its deadline to pass."""


class RequestHeld(ErasureError):
    """The request is `held` by a legal hold: it must not run until the hold is lifted or ends."""


class RetainedKeyLost(ErasureError):
    """A key of records a legal obligation keeps is gone while the records are kept: they can no longer be read."""


class StoresNotFinished(ErasureError):
    """EraseStores ran out of its invocation's time with stores left; their totals are saved for the retry."""
