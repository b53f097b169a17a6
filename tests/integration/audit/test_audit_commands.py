"""`custody audit show | verify | report` on the in-process stack, and the HTML report in a real browser."""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from custody.audit.ledger import subject_chain
from custody.audit.review.chain import Chain, Finding, Verification
from custody.audit.review.verification import verify
from custody.declared import naming
from ops import cli, target
from ops.auditor.report import render_html
from tests.integration.audit.conftest import Erased


@pytest.fixture
def auditor(erased: Erased, monkeypatch: pytest.MonkeyPatch) -> Erased:
    def resolve(_: object) -> target.Target:
        return target.Target(erased.settings, erased.stack.clients, "the test's local stack", "")

    monkeypatch.setattr(target, "resolve", resolve)
    return erased


def test_show_puts_the_history_beside_the_ledger(auditor: Erased, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", "show", auditor.request_id], configure_logging=False) == 0
    out = capsys.readouterr().out
    assert "execution history" in out
    assert "audit ledger" in out
    assert "> EraseStores" in out
    assert "erase_stores ok (" in out
    assert "profiles=" in out
    assert "#1 withdrawal_requested ok" in out
    assert "certify ok" in out
    assert f"chain {auditor.request_id} VERIFIED" in out


def test_verify_one_and_all_then_name_an_overwrite(auditor: Erased, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", "verify", auditor.request_id], configure_logging=False) == 0
    assert cli.main(["audit", "verify", "--all"], configure_logging=False) == 0
    out = capsys.readouterr().out
    assert "chains verified, 0 failed" in out

    # Tamper with the customer's own chain (consents, a refusal): the request's chain stays clean.
    chain = subject_chain(auditor.customer.subject_id)
    s3 = auditor.stack.clients("s3")
    bucket = auditor.settings.bucket(naming.AUDIT_BUCKET)
    key = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=f"ledger/{chain}/")["Contents"])[2]
    event = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    forged = json.dumps({**event, "target": "marketing"}).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=forged, ChecksumAlgorithm="SHA256")
    assert cli.main(["audit", "verify", chain], configure_logging=False) == 1
    assert cli.main(["audit", "verify", "--all"], configure_logging=False) == 1
    assert cli.main(["audit", "verify", auditor.request_id], configure_logging=False) == 0
    out = capsys.readouterr().out
    assert f"extra_version: {key}" in out
    assert "altered: event seq 3" in out
    assert "1 failed" in out


def test_the_report_escapes_everything() -> None:
    hostile = "<script>alert(1)</script>"
    chain = Chain(hostile)
    result = Verification(hostile, 0, 0, "0" * 64, None, (Finding("altered", hostile),))
    page = render_html(chain, result)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what chromium writes) into rows of pixel bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        offset += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert color in (2, 6)
    channels = 4 if color == 6 else 3
    stride = width * channels
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def test_the_html_report_renders_in_a_headless_browser(auditor: Erased, tmp_path: Path) -> None:
    report = tmp_path / "erasure-report.html"
    assert cli.main(["audit", "report", auditor.request_id, "--html", str(report)], configure_logging=False) == 0
    page = report.read_text()
    assert 'id="timeline"' in page
    assert "erase_stores ok" in page
    assert 'id="verification"' in page
    assert "Verified: the ledger chain is intact" in page
    assert "<script" not in page
    assert "http://" not in page
    assert "https://" not in page

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium: `make browser` installs Debian's (make test runs it when apt-get is available)")
    shot = tmp_path / "report.png"
    subprocess.run(  # noqa: S603 - a fixed browser binary on our own file
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1200,1800",
            report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    width, channels, rows = _png_pixels(shot)
    pixels = {row[x : x + 3] for row in rows[::4] for x in range(0, width * channels, channels * 4)}
    assert len(pixels) > 20, "the screenshot is blank"
    dark = sum(1 for row in rows[::4] for x in range(0, width * channels, channels * 4) if max(row[x : x + 3]) < 100)
    assert dark > 200, "no text was drawn"
    green = {pixel for pixel in pixels if pixel[1] > 200 and pixel[0] < 230 and pixel[2] < 235}
    assert green, "the green 'verified' banner is not on screen"
    shutil.copy(shot, Path("/tmp/custody-audit-report.png"))


@pytest.mark.parametrize("brief", [[], ["--brief"]], ids=["full", "brief"])
def test_show_of_a_chain_that_fails_verification_exits_1(
    auditor: Erased, brief: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script that runs `show` learns the verdict from the exit status as from `verify` (found by a fresh break)."""
    from ops.commands import audit

    def failing(chain: Any) -> Any:
        verdict = verify(chain)
        return dataclasses.replace(verdict, findings=(*verdict.findings, Finding("altered", "planted by the test")))

    monkeypatch.setattr(audit, "verify", failing)
    assert cli.main(["audit", "show", auditor.request_id, *brief], configure_logging=False) == 1
    assert "FAILED" in capsys.readouterr().out
