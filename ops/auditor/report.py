"""The auditor's views of a chain: a side-by-side timeline (execution history | ledger) as text,
and a self-contained HTML erasure report (inline CSS, no scripts, every value escaped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any, Final

from custody.audit.ledger import AuditEvent
from custody.audit.review.chain import Chain, HistoryEvent, Verification

QUIET_STATES: Final = frozenset({"ChoiceStateEntered", "PassStateEntered", "SucceedStateEntered"})
HISTORY_WIDTH: Final = 44


@dataclass(frozen=True)
class Row:
    at: datetime
    history: str
    ledger: str


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _history_text(event: HistoryEvent, several: bool) -> str:
    where = f"[{event.execution.rsplit('-rerun-', 1)[-1]}] " if several and "-rerun-" in event.execution else ""
    if event.kind.endswith("StateEntered"):
        return f"{where}> {event.state}"
    if event.kind.startswith("Execution"):
        return f"{where}{event.kind} {event.execution}"
    return f"{where}  {event.kind.removeprefix('Task')} {event.step or ''} {event.target or ''}".rstrip()


def _ledger_text(event: AuditEvent) -> str:
    counts = " ".join(f"{name}={value}" for name, value in sorted(event.counts.items()))
    target = "" if event.target == "workflow" else f" {event.target}"
    return f"#{event.seq} {event.step}{target} {event.outcome}" + (f" ({counts})" if counts else "")


def timeline(chain: Chain, *, brief: bool = False) -> list[Row]:
    """History and ledger merged by time; `brief` keeps state entries, task outcomes and every event."""
    several = len(chain.executions) > 1
    rows = [
        Row(event.at.astimezone(UTC), _history_text(event, several), "")
        for execution in chain.executions
        for event in execution.events
        if not (event.kind in QUIET_STATES or (brief and event.kind == "TaskStateEntered"))
    ]
    rows += [Row(_when(event.at), "", _ledger_text(event)) for event in chain.latest_events()]
    return sorted(rows, key=lambda row: (row.at, row.ledger != ""))


def verdict(verification: Verification) -> str:
    """One line `chain <id> VERIFIED: …`, or `… FAILED verification (n findings):` and a line per finding."""
    if verification.ok:
        return (
            f"chain {verification.chain_id} VERIFIED: {verification.events} events, head seq "
            f"{verification.head_seq} {verification.head_hash[:16]}…"
            + (f", certificate {verification.certificate_digest[:16]}…" if verification.certificate_digest else "")
        )
    lines = [f"chain {verification.chain_id} FAILED verification ({len(verification.findings)} findings):"]
    return "\n".join(lines + [f"  - {finding}" for finding in verification.findings])


def render_text(chain: Chain, verification: Verification, *, brief: bool = False, limit: int | None = None) -> str:
    """The timeline as two columns (history | ledger), at most `limit` rows, then the verdict."""
    rows = timeline(chain, brief=brief)
    shown = rows if limit is None or len(rows) <= limit else rows[: limit - 1]
    lines = [f"{'time':<12}  {'execution history':<{HISTORY_WIDTH}} | audit ledger"]
    lines.append("-" * (14 + HISTORY_WIDTH) + "+" + "-" * 40)
    for row in shown:
        lines.append(f"{row.at:%H:%M:%S.%f}"[:12] + f"  {row.history[:HISTORY_WIDTH]:<{HISTORY_WIDTH}} | {row.ledger}")
    if len(shown) < len(rows):
        lines.append(f"… {len(rows) - len(shown)} more rows (custody audit show {chain.chain_id})")
    return "\n".join([*lines, "", verdict(verification)])


_CSS: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.verdict{padding:.75rem 1rem;border-radius:6px;font-weight:600}
.ok{background:#dcf5e3;border:2px solid #1a7f37}.bad{background:#ffe1e1;border:2px solid #cf222e}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;
vertical-align:top;font-family:ui-monospace,monospace;font-size:12.5px}th{background:#f6f8fa}
td:first-child{white-space:nowrap}td.h{background:#eef4ff}td.l{background:#fff8e6}.meta{color:#57606a}
"""


def render_html_all(chains: list[tuple[Chain, Verification]]) -> str:
    """The report of one chain (`render_html`), or of a shared family's shards one after another.

    Each shard's section is its own page's body: verdict, findings, timeline. Raises `ValueError`
    for no chain.
    """
    if not chains:
        raise ValueError("a report needs a chain")
    if len(chains) == 1:
        return render_html(*chains[0])
    pages = [render_html(chain, verification) for chain, verification in chains]
    head, _, _ = pages[0].partition("<body>")
    bodies = [page.partition("<body>")[2].rpartition("</body>")[0] for page in pages]
    sections = "\n".join(f"<section>{body}</section>" for body in bodies)
    return f"{head}<body>\n{sections}\n</body></html>\n"


def render_html(chain: Chain, verification: Verification) -> str:
    """A self-contained page an auditor can file: escape() on every value, nothing fetched."""
    certificate = chain.certificates().get(verification.certificate_digest or "")
    rows = "\n".join(
        f"<tr><td>{escape(row.at.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3])}</td>"
        f"<td class='h'>{escape(row.history)}</td><td class='l'>{escape(row.ledger)}</td></tr>"
        for row in timeline(chain)
    )
    findings = "".join(f"<li>{escape(str(finding))}</li>" for finding in verification.findings)
    state = "ok" if verification.ok else "bad"
    headline = "Verified: the ledger chain is intact" if verification.ok else "Verification FAILED"
    executions = "".join(
        f"<li>{escape(item.name)}: {escape(item.status)} (started {escape(item.started.isoformat())})</li>"
        for item in chain.executions
    )
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Erasure report {escape(chain.chain_id)}</title><style>{_CSS}</style></head>
<body>
<h1>Erasure report</h1>
<p class="meta">Request {escape(chain.chain_id)} · generated {escape(generated)}</p>
<h2>Verification result</h2>
<div class="verdict {state}" id="verification">{escape(headline)}.
{escape(f"{verification.events} events, head seq {verification.head_seq}, hash {verification.head_hash}")}</div>
<ul id="findings">{findings}</ul>
<h2>Certificate</h2>
{_certificate_html(certificate, verification.certificate_digest)}
<h2>Executions</h2><ul>{executions or "<li>none readable</li>"}</ul>
<h2>Timeline</h2>
<table id="timeline"><thead><tr><th>time (UTC)</th><th>Step Functions execution history</th>
<th>audit ledger (Object Lock)</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""


def _certificate_html(certificate: dict[str, Any] | None, digest: str | None) -> str:
    if certificate is None:
        return "<p>No certificate has been filed for this request.</p>"
    cells = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(json.dumps(value, sort_keys=True))}</td></tr>"
        for name, value in sorted(certificate.items())
    )
    return f"<table id='certificate'><tr><th>digest (SHA-256)</th><td>{escape(digest or '')}</td></tr>{cells}</table>"
