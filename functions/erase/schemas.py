"""Bodies of the `erase` routes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WithdrawalAccepted(BaseModel):
    """The erasure has been requested; follow it at `status_url` (it works after the account is gone)."""

    request_id: str
    status: str = Field(description="`received`; `held` while a legal hold pauses the erasure")
    status_url: str
    on_hold_until: str | None = Field(
        default=None, description="While `held`: the legal hold's last day (YYYY-MM-DD); the erasure starts after it"
    )
