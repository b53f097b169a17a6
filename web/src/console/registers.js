/**
 * The registers: open data-subject requests (privacy officers extend them; auditors read) and the
 * sub-processor registry (privacy officers record agreements; auditors read).
 * @module console/registers
 */
import { formatDate, t } from "../shared/i18n.js";
import { announce, field, h, replace } from "../shared/ui.js";
import { actionForm, list, table } from "./forms.js";

/**
 * The requests register: the open requests, soonest due first, with an extension form per open request for
 * privacy officers; or, for a period of receipt, every request received in it, of any status.
 * @param {import("./context.js").Console} context
 * @param {HTMLElement} body
 * @param {{since: string, until: string} | null} [period] days `YYYY-MM-DD` (UTC), or the open requests
 * @returns {Promise<void>}
 */
export async function requestsPage(context, body, period = null) {
  const query = period ? `?${new URLSearchParams({ received_since: period.since, received_until: period.until })}` : "";
  const found = await context.api.get(`/v1/staff/requests${query}`);
  const officer = context.roles().includes("privacy_officer");
  const rows = (found.requests ?? []).map((item) => [
    h("a", { href: `#/audit/${encodeURIComponent(item.request_id)}` }, h("code", {}, String(item.request_id))),
    String(item.kind),
    String(item.status),
    formatDate(item.received_at),
    formatDate(item.due_at),
    item.extended ? t("console.yes") : t("console.no"),
    officer && item.open ? extensionForm(context, item.request_id) : "—",
  ]);
  replace(
    body,
    h("h1", {}, t("requests.title")),
    h("p", { class: "lead" }, period ? t("requests.lead.period", period) : t("requests.lead")),
    periodForm(context, body, period),
    h("p", { class: found.overdue ? "warning" : "notice" }, t("requests.overdue", { overdue: found.overdue, soon: found.due_soon })),
    table(
      t("requests.title"),
      [
        t("requests.id"),
        t("requests.kind"),
        t("requests.status"),
        t("requests.received"),
        t("requests.due"),
        t("requests.extended"),
        t("requests.extend"),
      ],
      rows,
      "compact",
    ),
  );
}

/**
 * Choose a period of receipt (the whole register of it), or go back to the open requests.
 * @param {import("./context.js").Console} context
 * @param {HTMLElement} body
 * @param {{since: string, until: string} | null} period
 */
function periodForm(context, body, period) {
  const today = new Date().toISOString().slice(0, 10);
  const yearAgo = new Date(Date.now() - 365 * 86_400_000).toISOString().slice(0, 10);
  const since = field({ name: "received_since", label: t("requests.since"), type: "date", value: period?.since ?? yearAgo });
  const until = field({ name: "received_until", label: t("requests.until"), type: "date", value: period?.until ?? today });
  const form = h(
    "form",
    {
      class: "inline",
      "aria-label": t("requests.period"),
      onsubmit: (/** @type {Event} */ event) => {
        event.preventDefault();
        const chosen = { since: since.input.value, until: until.input.value };
        requestsPage(context, body, chosen).catch((error) => announce(String(error?.message ?? error), "error"));
      },
    },
    since.root,
    until.root,
    h("button", { type: "submit" }, t("requests.showPeriod")),
    period
      ? h("button", { type: "button", class: "secondary", onclick: () => void requestsPage(context, body) }, t("requests.showOpen"))
      : null,
  );
  return form;
}

/** @param {import("./context.js").Console} context @param {string} requestId */
function extensionForm(context, requestId) {
  return actionForm({
    context,
    label: t("requests.extend.reason", { id: requestId }),
    allowed: "privacy_officer",
    submitLabel: t("requests.extend"),
    fields: [
      {
        name: "reason",
        label: t("requests.extend.reason", { id: requestId }),
        type: "select",
        value: "complexity",
        options: [
          { value: "complexity", label: t("requests.extend.complexity") },
          { value: "volume", label: t("requests.extend.volume") },
        ],
      },
    ],
    submit: async (values) => {
      const extended = await context.api.post(`/v1/staff/requests/${encodeURIComponent(requestId)}/extension`, {
        reason: values.reason,
      });
      return t("requests.extended.done", { id: requestId, due: formatDate(extended.due_at) });
    },
  });
}

/**
 * The sub-processor registry, and (privacy officers) a form to record or update an agreement.
 * @param {import("./context.js").Console} context
 * @param {HTMLElement} body
 * @returns {Promise<void>}
 */
export async function processorsPage(context, body) {
  const found = await context.api.get("/v1/staff/processors");
  const rows = (found.processors ?? []).map((item) => [
    h("code", {}, String(item.processor_id ?? "")),
    String(item.name),
    String(item.version),
    formatDate(item.signed_on),
    (item.purposes ?? []).join(", "),
    (item.categories ?? []).join(", "),
    String(item.commitments?.deletion_days ?? "—"),
    String(item.status ?? "—"),
  ]);
  const officer = context.roles().includes("privacy_officer");
  replace(
    body,
    h("h1", {}, t("processors.title")),
    h("p", { class: "lead" }, t("processors.lead")),
    table(
      t("processors.title"),
      [
        t("processors.id"),
        t("processors.name"),
        t("processors.version"),
        t("processors.signed"),
        t("processors.purposes"),
        t("processors.categories"),
        t("processors.deletionDays"),
        t("processors.status"),
      ],
      rows,
      "compact",
    ),
    officer
      ? h(
          "section",
          { class: "card" },
          h("h2", {}, t("processors.edit")),
          h("p", { class: "notice" }, t("processors.commitments")),
          agreementForm(context, body),
        )
      : null,
  );
}

/** @param {import("./context.js").Console} context @param {HTMLElement} body */
function agreementForm(context, body) {
  return actionForm({
    context,
    label: t("processors.edit"),
    allowed: "privacy_officer",
    submitLabel: t("processors.save"),
    fields: [
      { name: "processor_id", label: t("processors.id"), required: true, autocomplete: "off" },
      { name: "name", label: t("processors.name"), required: true },
      { name: "version", label: t("processors.version"), required: true },
      { name: "signed_on", label: t("processors.signed"), type: "date", required: true },
      { name: "purposes", label: t("processors.purposes"), hint: t("processors.purposes.hint"), required: true },
      { name: "categories", label: t("processors.categories"), hint: t("grants.categories.hint"), required: true },
      { name: "deletion_days", label: t("processors.deletionDays"), type: "number", value: "30", attributes: { min: 1, max: 365 } },
      { name: "principal", label: t("processors.principal"), required: true, autocomplete: "off" },
      {
        name: "status",
        label: t("processors.status"),
        type: "select",
        value: "active",
        options: [
          { value: "active", label: "active" },
          { value: "suspended", label: "suspended" },
        ],
      },
    ],
    submit: async (values) => {
      await context.api.put(`/v1/staff/processors/${encodeURIComponent(values.processor_id)}`, {
        name: values.name,
        version: values.version,
        signed_on: values.signed_on,
        purposes: list(values.purposes),
        categories: list(values.categories),
        commitments: {
          purpose_limitation: true,
          confidentiality: true,
          deletion_days: Number(values.deletion_days || 30),
          onward_transfer_requires_approval: true,
        },
        principal: values.principal,
        status: values.status,
      });
      await processorsPage(context, body);
      return t("processors.saved", { id: values.processor_id });
    },
  });
}
