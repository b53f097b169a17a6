"""Which endpoints may receive deletion requests (registry.endpoint_problem), and the relay's backoff."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.declared.settings import Settings
from custody.subprocessors import relay
from custody.subprocessors.registry import endpoint_problem

PUBLIC = (
    "https://processor.example.com/erase",
    "https://processor.example.com:8443/v1/erasure?tenant=crm",
    "https://93.184.216.34/erase",
    "https://[2606:2800:220:1:248:1893:25c8:1946]/erase",
)
NEVER = (
    "http://processor.example.com/erase",
    "ftp://processor.example.com/",
    "https://",
    "https://user:pw@processor.example.com/",
    "https://processor.example.com/#frag",
    "https://10.0.0.5/",
    "https://192.168.1.10/",
    "https://172.16.0.1/",
    "https://169.254.169.254/latest/meta-data",
    "https://[fd00::1]/",
    "https://[::1]x/",
    "https://printer.local/",
    "https://db.internal/",
    "https://intranet/",
    "https://0.0.0.0/",
    "https://processor.example.com:0/",
)
LOOPBACK = ("https://127.0.0.1:8443/erasure-requests", "https://localhost/x", "https://[::1]:9/")


@pytest.mark.parametrize("endpoint", PUBLIC)
def test_public_https_endpoints_are_accepted(endpoint: str) -> None:
    assert endpoint_problem(endpoint, allow_loopback=False) is None


@pytest.mark.parametrize("endpoint", NEVER)
def test_other_endpoints_are_refused_even_locally(endpoint: str) -> None:
    assert endpoint_problem(endpoint, allow_loopback=False)
    assert endpoint_problem(endpoint, allow_loopback=True)


@pytest.mark.parametrize("endpoint", LOOPBACK)
def test_loopback_only_where_the_local_setting_allows_it(endpoint: str) -> None:
    assert endpoint_problem(endpoint, allow_loopback=False) == "must be a public host"
    assert endpoint_problem(endpoint, allow_loopback=True) is None


def test_the_deployed_settings_cannot_allow_loopback_or_a_private_ca() -> None:
    assert not Settings(environment="aws").processor_endpoints_allow_loopback
    with pytest.raises(ValueError, match="local stack only"):
        Settings(environment="aws", processor_endpoints_allow_loopback=True)
    with pytest.raises(ValueError, match="local stack only"):
        Settings(environment="aws", processor_endpoint_ca_file="/tmp/ca.pem")


@given(attempt=st.integers(min_value=-3, max_value=10_000), seed=st.integers())
def test_retry_delays_are_jittered_within_an_exponential_cap(attempt: int, seed: int) -> None:
    delay = relay.retry_delay(attempt, random.Random(seed))
    ceiling = min(relay.MAX_DELAY_SECONDS, relay.BASE_DELAY_SECONDS * 2 ** max(0, min(attempt, 16) - 1))
    assert 1 <= delay <= ceiling <= 43_200  # SQS's ChangeMessageVisibility allows 12 hours at most


def test_retry_delays_spread() -> None:
    rng = random.Random(7)
    assert len({relay.retry_delay(6, rng) for _ in range(50)}) > 10  # full jitter, not a fixed schedule
