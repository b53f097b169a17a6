/**
 * The auditor's pages: the disposal register (paged) and, per request, what `custody audit show` prints —
 * the execution history beside the ledger events, the chain verification and the certificate
 * (`GET /v1/audit/disposals`, `GET /v1/audit/requests/{id}`). Everything shown is ids, kinds, dates,
 * counts and digests, set as text.
 * @module console/audit
 */
import { formatDate, t } from "../shared/i18n.js";
import { details, h, replace } from "../shared/ui.js";
import { actionForm, table } from "./forms.js";

/**
 * The disposal register, a page at a time (the API's cursor kept in memory, not in the URL).
 * @param {import("./context.js").Console} context
 * @param {HTMLElement} body
 * @param {string | null} [cursor]
 * @returns {Promise<void>}
 */
export async function disposalsPage(context, body, cursor = null) {
  const query = new URLSearchParams({ limit: "25" });
  if (cursor) query.set("cursor", cursor);
  const found = await context.api.get(`/v1/audit/disposals?${query}`);
  const rows = (found.disposals ?? []).map((entry) => [
    h("a", { href: `#/audit/${encodeURIComponent(entry.request_id)}` }, h("code", {}, String(entry.request_id))),
    String(entry.reason),
    formatDate(entry.requested_at),
    formatDate(entry.destroyed_at),
    String(Object.values(entry.stores ?? {}).reduce((sum, count) => sum + Number(count), 0)),
    String(entry.verification),
    h("code", {}, entry.certificate_digest ? String(entry.certificate_digest) : "—"),
  ]);
  const pager = h(
    "div",
    { class: "pager" },
    cursor ? h("button", { type: "button", class: "secondary", onclick: () => void disposalsPage(context, body) }, t("disposals.first")) : null,
    found.next_cursor
      ? h("button", { type: "button", onclick: () => void disposalsPage(context, body, found.next_cursor) }, t("disposals.next"))
      : null,
  );
  replace(
    body,
    h("h1", {}, t("disposals.title")),
    h("p", { class: "lead" }, t("disposals.lead")),
    details([
      [t("disposals.since"), formatDate(found.since)],
      [t("disposals.until"), formatDate(found.until)],
    ]),
    table(
      t("disposals.title"),
      [
        t("disposals.request"),
        t("disposals.reason"),
        t("disposals.requested"),
        t("disposals.destroyed"),
        t("disposals.items"),
        t("disposals.verification"),
        t("disposals.certificate"),
      ],
      rows,
      "compact",
    ),
    pager,
  );
}

/**
 * A form to open any request's review by its id.
 * @param {import("./context.js").Console} context
 * @returns {HTMLElement}
 */
export function lookupForm(context) {
  return actionForm({
    context,
    label: t("review.open"),
    allowed: "auditor",
    submitLabel: t("review.open"),
    fields: [{ name: "request_id", label: t("review.lookup"), required: true, autocomplete: "off" }],
    submit: async (values) => {
      window.location.hash = `#/audit/${encodeURIComponent(values.request_id)}`;
      return undefined;
    },
  });
}

/**
 * One request's review: per chain, the verdict, the history beside the ledger, and the certificate.
 * @param {import("./context.js").Console} context
 * @param {HTMLElement} body
 * @param {string} requestId
 * @returns {Promise<void>}
 */
export async function reviewPage(context, body, requestId) {
  const found = await context.api.get(`/v1/audit/requests/${encodeURIComponent(requestId)}`);
  replace(
    body,
    h("h1", {}, t("review.title", { id: requestId })),
    (found.chains ?? []).map((chain) => chainSection(chain)),
  );
}

/** @param {Record<string, any>} chain */
function chainSection(chain) {
  const verification = chain.verification ?? {};
  const verdict = verification.ok
    ? h(
        "p",
        { class: "verdict-ok", "data-verdict": "verified" },
        t("review.verified", { events: verification.events, seq: verification.head_seq, hash: verification.head_hash }),
      )
    : h(
        "div",
        { class: "verdict-failed", "data-verdict": "failed" },
        h("p", {}, t("review.failed", { count: (verification.findings ?? []).length })),
        h(
          "ul",
          { "aria-label": t("review.findings") },
          (verification.findings ?? []).map((finding) => h("li", {}, `${finding.kind}: ${finding.detail}`)),
        ),
      );
  return h(
    "section",
    { class: "card", "aria-label": t("review.chain", { id: chain.chain_id }) },
    h("h2", {}, t("review.chain", { id: chain.chain_id })),
    verdict,
    h(
      "div",
      { class: "side-by-side" },
      h("section", { "aria-labelledby": `history-${chain.chain_id}`, tabindex: "0" }, h("h3", { id: `history-${chain.chain_id}` }, t("review.history")), historyTables(chain)),
      h("section", { "aria-labelledby": `ledger-${chain.chain_id}`, tabindex: "0" }, h("h3", { id: `ledger-${chain.chain_id}` }, t("review.ledger")), ledgerTable(chain)),
    ),
    certificates(chain, verification.certificate_digest),
  );
}

/**
 * A moment to the millisecond, in UTC as the ledger and the history record it: the order of events
 * within one second is what an auditor compares.
 * @param {string} iso
 */
function instant(iso) {
  const parsed = new Date(iso);
  return Number.isNaN(parsed.getTime()) ? String(iso) : parsed.toISOString().replace("T", " ");
}

/** @param {Record<string, any>} chain */
function historyTables(chain) {
  const executions = chain.executions ?? [];
  if (executions.length === 0) return h("p", { class: "notice" }, t("console.none"));
  return executions.map((execution) =>
    table(
      t("review.execution", { name: execution.name, status: execution.status }),
      [t("review.at"), t("review.event"), t("review.step"), t("review.target")],
      (execution.events ?? []).map((event) => [
        h("time", { datetime: event.at }, instant(event.at)),
        event.state ? `${event.kind} ${event.state}` : String(event.kind),
        event.step ?? "",
        event.target ?? "",
      ]),
      "compact history",
    ),
  );
}

/** @param {Record<string, any>} chain */
function ledgerTable(chain) {
  return table(
    t("review.ledger"),
    [t("review.seq"), t("review.at"), t("review.step"), t("review.target"), t("review.outcome"), t("review.counts")],
    (chain.ledger ?? []).map((event) => [
      String(event.seq),
      h("time", { datetime: event.at }, instant(event.at)),
      String(event.step),
      String(event.target),
      String(event.outcome),
      Object.entries(event.counts ?? {})
        .map(([name, value]) => `${name}=${value}`)
        .join(" "),
    ]),
    "compact ledger",
  );
}

/** @param {Record<string, any>} chain @param {string | null} attested */
function certificates(chain, attested) {
  const filed = chain.certificates ?? [];
  if (filed.length === 0) return h("p", { class: "notice" }, t("review.noCertificate"));
  return filed.map((item) =>
    h(
      "section",
      { class: "certificate", "aria-label": t("review.certificate") },
      h("h3", {}, t("review.certificate")),
      details([[t("review.certificate.digest"), h("code", { "data-attested": String(item.digest === attested) }, String(item.digest))]]),
      h("pre", { class: "data", tabindex: "0" }, JSON.stringify(item.document, null, 2)),
    ),
  );
}
