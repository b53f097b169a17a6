from __future__ import annotations

import pytest
from pydantic import ValidationError

from custody.declared.settings import Settings, get_settings


def test_defaults_serve_the_local_stack_without_configuration() -> None:
    settings = Settings.from_env({})
    assert settings.environment == "local"
    assert settings.table("subject_keys") == "crm-custody-subject-keys"
    assert settings.bucket("documents") == "crm-custody-documents-123456789012-us-east-1"


def test_environment_overrides_and_types_are_validated() -> None:
    settings = Settings.from_env(
        {"CUSTODY_RESOURCE_PREFIX": "acme", "CUSTODY_KEY_CACHE_TTL_SECONDS": "60", "AWS_REGION": "eu-west-1"}
    )
    assert settings.table("profiles") == "acme-profiles"
    assert settings.key_cache_ttl_seconds == 60.0
    assert settings.region == "eu-west-1"


@pytest.mark.parametrize(
    "environ",
    [
        {"CUSTODY_KEY_CACHE_TTL_SECONDS": "soon"},
        {"CUSTODY_KEY_CACHE_MAX_ENTRIES": "0"},
        {"CUSTODY_ENVIRONMENT": "production-ish"},
    ],
)
def test_invalid_settings_fail_at_start_not_later(environ: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env(environ)


def test_to_env_round_trips() -> None:
    settings = Settings(resource_prefix="acme", bucket_qualifier="111122223333-eu-west-1", audit_retention_days=3650)
    assert Settings.from_env(settings.to_env()) == settings


def test_settings_are_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("CUSTODY_RESOURCE_PREFIX", "first")
    assert get_settings().resource_prefix == "first"
    monkeypatch.setenv("CUSTODY_RESOURCE_PREFIX", "second")
    assert get_settings().resource_prefix == "first"
    get_settings.cache_clear()
