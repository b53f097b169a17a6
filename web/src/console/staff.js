/**
 * Staff pages: ask for an access grant and see the masked need-to-know view while it lasts (support,
 * privacy officers); approve a grant, review change requests, place or lift a legal hold (privacy officers).
 * Customer and grant ids are typed into forms, never put in the URL.
 * @module console/staff
 */
import { formatDate, t } from "../shared/i18n.js";
import { announce, details, h, replace } from "../shared/ui.js";
import { actionForm, list, table } from "./forms.js";

/**
 * Request a grant, then show the customer under it.
 * @param {import("./context.js").Console} context
 * @returns {HTMLElement[]}
 */
export function grantsPage(context) {
  const view = h("section", { class: "card", "aria-live": "polite" });
  const viewForm = actionForm({
    context,
    label: t("grants.view"),
    allowed: "support",
    submitLabel: t("grants.view"),
    fields: [
      { name: "customer_id", label: t("grants.customer"), required: true, autocomplete: "off" },
      { name: "grant_id", label: t("grants.grant"), required: true, autocomplete: "off" },
    ],
    submit: async (values) => {
      const query = new URLSearchParams({ grant_id: values.grant_id });
      const found = await context.api.get(`/v1/staff/customers/${encodeURIComponent(values.customer_id)}?${query}`);
      replace(view, customerView(found));
      return undefined;
    },
  });
  const requestForm = actionForm({
    context,
    label: t("grants.request"),
    allowed: "support",
    submitLabel: t("grants.request"),
    fields: [
      { name: "customer_id", label: t("grants.customer"), required: true, autocomplete: "off" },
      { name: "purpose", label: t("grants.purpose"), hint: t("grants.purpose.hint"), required: true },
      { name: "ticket", label: t("grants.ticket"), hint: t("grants.ticket.hint"), required: true },
      { name: "categories", label: t("grants.categories"), hint: t("grants.categories.hint"), required: true },
      { name: "duration_minutes", label: t("grants.duration"), type: "number", value: "60", attributes: { min: 1, max: 480 } },
    ],
    submit: async (values) => {
      const grant = await context.api.post("/v1/staff/access-grants", {
        customer_id: values.customer_id,
        purpose: values.purpose,
        ticket: values.ticket,
        categories: list(values.categories),
        duration_minutes: Number(values.duration_minutes || 60),
      });
      /** @type {HTMLInputElement} */ (viewForm.elements.namedItem("customer_id")).value = grant.customer_id;
      /** @type {HTMLInputElement} */ (viewForm.elements.namedItem("grant_id")).value = grant.grant_id;
      return t("grants.requested", { grant: grant.grant_id, status: grant.status });
    },
  });
  return [
    h("h1", {}, t("grants.title")),
    h("p", { class: "lead" }, t("grants.lead")),
    h("section", { class: "card" }, h("h2", {}, t("grants.request")), requestForm),
    h("section", { class: "card" }, h("h2", {}, t("grants.view")), viewForm),
    view,
  ];
}

/**
 * The masked view: each granted category's fields as text; what is not granted stays `*****`.
 * @param {Record<string, any>} found the API's CustomerView
 * @returns {HTMLElement[]}
 */
function customerView(found) {
  const rows = [];
  for (const [category, values] of Object.entries(found.categories ?? {})) {
    if (values && typeof values === "object") {
      for (const [name, value] of Object.entries(values)) rows.push([category, name, display(value)]);
    } else {
      rows.push([category, "", h("span", { class: "masked" }, display(values))]);
    }
  }
  return [
    h("h2", {}, t("grants.view.title")),
    details([
      [t("grants.customer"), h("code", {}, String(found.customer_id))],
      [t("grants.purpose"), String(found.purpose)],
      [t("grants.ticket"), String(found.ticket)],
      [t("grants.expires"), found.expires_at ? formatDate(new Date(found.expires_at * 1000).toISOString()) : "—"],
      [t("grants.shown"), (found.shown ?? []).join(", ") || "—"],
      [t("grants.masked"), (found.masked ?? []).join(", ") || "—"],
      [
        t("grants.interactions"),
        Array.isArray(found.interactions) ? String(found.interactions.length) : String(found.interactions ?? "—"),
      ],
    ]),
    table(t("grants.view.title"), [t("grants.categories"), t("changes.field"), t("grants.value")], rows),
  ];
}

/** @param {unknown} value */
function display(value) {
  if (value === null || value === undefined) return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/**
 * Approve a grant (privacy officers; the API refuses anyone else, and the page says so).
 * @param {import("./context.js").Console} context
 * @returns {HTMLElement[]}
 */
export function approvalsPage(context) {
  const form = actionForm({
    context,
    label: t("approvals.title"),
    allowed: "privacy_officer",
    submitLabel: t("approvals.approve"),
    fields: [
      { name: "grant_id", label: t("grants.grant"), required: true, autocomplete: "off" },
      { name: "customer_id", label: t("grants.customer"), required: true, autocomplete: "off" },
    ],
    submit: async (values) => {
      const grant = await context.api.post(`/v1/staff/access-grants/${encodeURIComponent(values.grant_id)}/approval`, {
        customer_id: values.customer_id,
      });
      return t("approvals.done", { grant: grant.grant_id, status: grant.status });
    },
  });
  return [h("h1", {}, t("approvals.title")), h("p", { class: "lead" }, t("approvals.lead")), h("section", { class: "card" }, form)];
}

/**
 * The change-request queue, each with a decision form (privacy officers).
 * @param {import("./context.js").Console} context
 * @param {HTMLElement} body where the queue goes once loaded
 * @returns {Promise<void>}
 */
export async function changesPage(context, body) {
  const found = await context.api.get("/v1/staff/change-requests");
  const items = found.change_requests ?? [];
  replace(
    body,
    h("h1", {}, t("changes.title")),
    h("p", { class: "lead" }, t("changes.lead")),
    items.length === 0 ? h("p", { class: "notice" }, t("console.none")) : null,
    items.map((item) =>
      h(
        "section",
        { class: "card" },
        h("h2", {}, h("code", {}, String(item.change_request_id))),
        requested(context, item),
        actionForm({
          context,
          label: `${t("changes.decide")} ${item.change_request_id}`,
          allowed: "privacy_officer",
          submitLabel: t("changes.decide"),
          fields: [
            {
              name: "decision",
              label: t("changes.decision"),
              type: "select",
              value: "approve",
              options: [
                { value: "approve", label: t("changes.approve") },
                { value: "reject", label: t("changes.reject") },
              ],
            },
            { name: "reason", label: t("changes.why"), required: true },
          ],
          submit: async (values) => {
            const decided = await context.api.post(
              `/v1/staff/change-requests/${encodeURIComponent(item.change_request_id)}/decision`,
              { customer_id: item.customer_id, decision: values.decision, reason: values.reason },
            );
            return t("changes.done", { outcome: String(decided.status ?? values.decision) });
          },
        }),
      ),
    ),
  );
}

/**
 * A queued change request's facts. The queue holds no values: the requested value and the customer's
 * reason are read on demand from the customer's own queue (`GET /v1/staff/change-requests?customer_id=`),
 * which the API records as a read in the customer's access log, so an officer sees them to decide.
 * @param {import("./context.js").Console} context
 * @param {Record<string, any>} item a queue entry (ids, field, dates)
 * @returns {HTMLElement}
 */
function requested(context, item) {
  const facts = (/** @type {Record<string, any>} */ shown) =>
    details([
      [t("grants.customer"), h("code", {}, String(item.customer_id))],
      [t("changes.field"), String(item.field ?? "—")],
      [t("changes.value"), shown ? display(shown.value) : t("changes.hidden")],
      [t("changes.reason"), shown ? String(shown.reason ?? "—") : t("changes.hidden")],
      [t("changes.created"), formatDate(item.created_at)],
    ]);
  const holder = h("div", {}, facts(null));
  const reveal = h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: async () => {
        try {
          const query = new URLSearchParams({ customer_id: String(item.customer_id) });
          const mine = await context.api.get(`/v1/staff/change-requests?${query}`);
          const found = (mine.change_requests ?? []).find(
            (/** @type {Record<string, any>} */ entry) => entry.change_request_id === item.change_request_id,
          );
          if (!found) {
            announce(t("changes.gone"), "error");
            return;
          }
          replace(holder, facts(found));
          reveal.remove();
          announce(t("changes.shown"));
        } catch (error) {
          announce(error instanceof Error ? error.message : String(error), "error");
        }
      },
    },
    t("changes.reveal"),
  );
  return h("div", {}, holder, h("p", { class: "hint" }, t("changes.reveal_hint")), reveal);
}

/**
 * Place or lift a legal hold (privacy officers).
 * @param {import("./context.js").Console} context
 * @returns {HTMLElement[]}
 */
export function holdsPage(context) {
  const reasons = ["dispute", "litigation", "regulatory_investigation", "tax_audit"];
  const place = actionForm({
    context,
    label: t("holds.place"),
    allowed: "privacy_officer",
    submitLabel: t("holds.place"),
    fields: [
      { name: "customer_id", label: t("grants.customer"), required: true, autocomplete: "off" },
      {
        name: "reason_code",
        label: t("holds.reason"),
        type: "select",
        value: "dispute",
        options: reasons.map((value) => ({ value, label: value })),
      },
      { name: "ticket", label: t("holds.ticket"), hint: t("holds.ticket.hint"), required: true },
      { name: "until", label: t("holds.until"), type: "date", required: true },
    ],
    submit: async (values) => {
      const placed = await context.api.put(`/v1/staff/customers/${encodeURIComponent(values.customer_id)}/legal-hold`, {
        reason_code: values.reason_code,
        ticket: values.ticket,
        until: values.until,
      });
      return t("holds.placed", { until: String(placed.until ?? values.until) });
    },
  });
  const lift = actionForm({
    context,
    label: t("holds.lift"),
    allowed: "privacy_officer",
    submitLabel: t("holds.lift"),
    fields: [{ name: "customer_id", label: t("grants.customer"), required: true, autocomplete: "off" }],
    submit: async (values) => {
      await context.api.delete(`/v1/staff/customers/${encodeURIComponent(values.customer_id)}/legal-hold`);
      return t("holds.lifted");
    },
  });
  return [
    h("h1", {}, t("holds.title")),
    h("p", { class: "lead" }, t("holds.lead")),
    h("section", { class: "card" }, h("h2", {}, t("holds.place")), place),
    h("section", { class: "card" }, h("h2", {}, t("holds.lift")), lift),
  ];
}
