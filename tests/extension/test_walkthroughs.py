"""The two walkthroughs of docs/extending.md hold: each patch touches exactly the files the doc names,
applies to this repository, and passes the tests the declarations generate for it.

Each patch (`docs/extending/*.patch`) is applied to a copy of the repository (the files git tracks,
as they are on disk) and the walkthrough's tests run there in a subprocess, the copy first on
`sys.path`. Both copies run at once (their synthesis dominates); the tests then read the outcome.
A patch that no longer applies fails with how to regenerate it (docs/extending.md, "Regenerating
a patch"). Each run must pass tests whose ids name the new store or step, so it cannot pass
without exercising them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "extending.md"
TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Walkthrough:
    name: str  # the patch's name (docs/extending/<name>.patch) and its file list's marker in the doc
    tests: tuple[str, ...]  # what the run collects: generated tests, and the change's own
    must_pass: tuple[str, ...]  # node ids (as pytest -rA prints them) that prove the change was exercised

    @property
    def patch(self) -> Path:
        return ROOT / "docs" / "extending" / f"{self.name}.patch"


WALKTHROUGHS = (
    Walkthrough(
        "add-a-data-category",
        tests=(
            "tests/unit/test_datamap.py",
            "tests/unit/test_rooms.py",
            "tests/unit/test_ropa.py",
            "tests/infra/test_datamap_stack.py",
            "tests/infra/test_iam.py",
            "tests/infra/test_storage_security.py",
            "tests/integration/stack/test_provision.py",
            "tests/integration/stack/test_openapi.py",
            "tests/integration/customers/test_access.py",
            "tests/integration/customers/test_feedback.py",
            "tests/integration/erasure/test_withdrawal.py",
        ),
        must_pass=(
            "tests/unit/test_rooms.py::test_every_declared_table_and_bucket_has_one_repository[feedback]",
            "tests/integration/customers/test_feedback.py::test_an_answer_needs_the_surveys_purpose",
            "tests/integration/customers/test_feedback.py::test_withdrawing_surveys_erases_the_answers_and_nothing_else",
            "tests/integration/customers/test_feedback.py::test_a_withdrawal_leaves_no_answer",
        ),
    ),
    Walkthrough(
        "add-an-erasure-step",
        tests=(
            "tests/unit/test_workflow_contract.py",
            "tests/unit/test_rooms.py",
            "tests/unit/test_ledger_grammar.py",
            "tests/integration/erasure/test_workflow_paths.py::test_every_step_of_the_asl_is_failed_below_or_says_why_not",
            "tests/integration/erasure/test_workflow_paths.py::test_a_failure_in_any_state_is_recorded_and_a_rerun_finishes_the_job[inventory-Inventory]",
            "tests/integration/erasure/test_withdrawal.py",
            "tests/integration/erasure/test_inventory.py",
        ),
        must_pass=(
            "tests/unit/test_workflow_contract.py::test_each_payload_is_its_steps_contract[Inventory]",
            "tests/integration/erasure/test_workflow_paths.py::test_a_failure_in_any_state_is_recorded_and_a_rerun_finishes_the_job[inventory-Inventory]",
            "tests/integration/erasure/test_inventory.py::test_a_withdrawal_counts_what_it_erases_before_erasing_it",
            "tests/integration/erasure/test_inventory.py::test_a_purpose_withdrawal_counts_only_its_scope",
        ),
    ),
)
REGENERATE = (
    "docs/extending/{name}.patch no longer applies to this repository. Regenerate it as docs/extending.md says "
    "(Regenerating a patch): apply it by hand where it still fits, make its tests pass, then "
    "`git add -N <new files> && git diff -- <the listed files> > docs/extending/{name}.patch`, and revert.\n{error}"
)


def files_the_doc_names(name: str) -> set[str]:
    """The paths listed between `<!-- files: NAME -->` and `<!-- /files -->` in docs/extending.md."""
    found = re.search(rf"<!-- files: {re.escape(name)} -->(.*?)<!-- /files -->", DOC.read_text(), re.DOTALL)
    assert found, f"docs/extending.md has no file list for {name}"
    return set(re.findall(r"^\s*[-*]\s+`([^`]+)`", found.group(1), re.MULTILINE))


def files_the_patch_touches(patch: Path) -> set[str]:
    touched = set()
    for line in patch.read_text().splitlines():
        if line.startswith("diff --git "):
            before, after = re.fullmatch(r"diff --git a/(\S+) b/(\S+)", line).groups()  # type: ignore[union-attr]
            touched |= {before, after}
    return touched


def _copy_of_the_repository(into: Path) -> None:
    """The files git tracks, as they are on disk (a change not yet committed is tested too)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607 - git on PATH
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = ROOT / relative
        if source.is_file():
            target = into / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    # What synthesis reads but git does not hold: the functions' third-party layer (make lambda-deps) and the
    # built web pages the site deploys (make web).
    (into / "build").mkdir(exist_ok=True)
    (into / "build" / "lambda-deps").symlink_to(ROOT / "build" / "lambda-deps")
    (into / "build" / "web").symlink_to(ROOT / "build" / "web")


@dataclass
class Run:
    walkthrough: Walkthrough
    copy: Path
    refused: str | None = None  # git apply's message when the patch does not apply
    process: subprocess.Popen[str] | None = None
    output: str = field(default="")

    def wait(self) -> int:
        assert self.process is not None
        self.output, _ = self.process.communicate(timeout=TIMEOUT_SECONDS)
        return self.process.returncode


def _environment(copy: Path) -> dict[str, str]:
    # This session's own settings (a template handed to the stack, the functions' variables) stay here.
    keep = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CUSTODY_", "PYTEST_", "POWERTOOLS_", "AWS_"))
    }
    return {**keep, "PYTHONPATH": os.pathsep.join([str(copy), str(copy / "functions")]), "PYTHONDONTWRITEBYTECODE": "1"}


def _start(walkthrough: Walkthrough, copy: Path) -> Run:
    _copy_of_the_repository(copy)
    patch = str(walkthrough.patch)
    check = subprocess.run(["git", "apply", "--check", patch], cwd=copy, capture_output=True, text=True)  # noqa: S603, S607
    if check.returncode:
        return Run(walkthrough, copy, refused=check.stderr)
    subprocess.run(["git", "apply", patch], cwd=copy, check=True, capture_output=True)  # noqa: S603, S607
    command = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *walkthrough.tests]
    process = subprocess.Popen(  # noqa: S603 - this interpreter, our own tests
        command, cwd=copy, env=_environment(copy), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return Run(walkthrough, copy, process=process)


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Run]]:
    """Every walkthrough's run, started together; removed (and stopped, if still running) at the end."""
    base = Path(tempfile.mkdtemp(prefix="walkthroughs-"))
    started: dict[str, Run] = {}
    try:
        for walkthrough in WALKTHROUGHS:
            started[walkthrough.name] = _start(walkthrough, base / walkthrough.name)
        yield started
    finally:
        for run in started.values():
            if run.process is not None and run.process.poll() is None:
                run.process.kill()
                run.process.wait()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("walkthrough", WALKTHROUGHS, ids=[item.name for item in WALKTHROUGHS])
def test_the_patch_touches_exactly_the_files_the_doc_names(walkthrough: Walkthrough) -> None:
    named, touched = files_the_doc_names(walkthrough.name), files_the_patch_touches(walkthrough.patch)
    assert named, f"docs/extending.md lists no files for {walkthrough.name}"
    assert touched == named, (
        f"the patch touches {sorted(touched - named)} the doc does not name; "
        f"the doc names {sorted(named - touched)} the patch does not touch"
    )


@pytest.mark.parametrize("walkthrough", WALKTHROUGHS, ids=[item.name for item in WALKTHROUGHS])
def test_the_patch_applied_to_a_copy_passes_what_the_declarations_generate(
    walkthrough: Walkthrough, runs: dict[str, Run]
) -> None:
    run = runs[walkthrough.name]
    if run.refused is not None:
        pytest.fail(REGENERATE.format(name=walkthrough.name, error=run.refused), pytrace=False)
    returncode = run.wait()
    assert returncode == 0, f"{walkthrough.name}: its tests failed on the patched copy\n{run.output[-6000:]}"
    passed = set(re.findall(r"^PASSED (\S+(?:\[[^\]]*\])?)", run.output, re.MULTILINE))
    missing = [node for node in walkthrough.must_pass if node not in passed]
    assert not missing, f"{walkthrough.name}: these did not run and pass, so the change was not exercised: {missing}"


def test_the_repository_itself_holds_neither_example() -> None:
    """The patches are the examples: the code on main has neither the feedback store nor the inventory step."""
    from custody.declared import datamap, workflow

    assert "feedback" not in {store.name for store in datamap.STORES}
    assert "inventory" not in workflow.STEPS
