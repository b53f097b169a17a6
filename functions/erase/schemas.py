"""Bodies of the `erase` routes."""

from __future__ import annotations

from pydantic import BaseModel


class WithdrawalAccepted(BaseModel):
    """The erasure has been requested; follow it at `status_url` (it works after the account is gone)."""

    request_id: str
    status: str
    status_url: str
