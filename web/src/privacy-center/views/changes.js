/**
 * Change requests: a verified field (legal name, birth date) changes only after a review. Ask for one
 * (`POST /v1/me/change-requests`: field, new value, reason) and follow their status
 * (`GET /v1/me/change-requests`).
 * @module privacy-center/views/changes
 */
import { idempotencyKey } from "../../shared/api.js";
import { t } from "../../shared/i18n.js";
import { announce, field, h } from "../../shared/ui.js";
import { code, page, submit, table } from "./common.js";

export const title = "center.changes.title";
export const FIELDS = ["legal_name", "birth_date"];

/** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
export async function render(ctx, main) {
  const listed = await ctx.api.get("/v1/me/change-requests");
  const requests = Array.isArray(listed.change_requests) ? listed.change_requests : [];
  const which = field({
    name: "field",
    label: t("center.changes.field"),
    type: "select",
    options: FIELDS.map((name) => ({ value: name, label: code("center.field", name) })),
    required: true,
  });
  const value = field({ name: "value", label: t("center.changes.value"), required: true, hint: t("center.changes.valueHint") });
  const reason = field({ name: "reason", label: t("center.changes.reason"), type: "textarea", required: true });
  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        void submit(form, async () => {
          await ctx.api.post(
            "/v1/me/change-requests",
            { field: which.input.value, value: value.input.value.trim(), reason: reason.input.value.trim() },
            { "Idempotency-Key": idempotencyKey() },
          );
          announce(t("center.changes.sent"), "success");
          ctx.go("changes");
        });
      },
    },
    which.root,
    value.root,
    reason.root,
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("center.changes.submit"))),
  );
  page(
    main,
    title,
    "center.changes.lead",
    h("section", { class: "card", "aria-labelledby": "changes-new" }, h("h2", { id: "changes-new" }, t("center.changes.new")), form),
    h(
      "section",
      { class: "card", "aria-labelledby": "changes-list" },
      h("h2", { id: "changes-list" }, t("center.changes.list")),
      requests.length
        ? table(
            "center.changes.list",
            [
              { key: "field", label: "center.col.field" },
              { key: "value", label: "center.col.value" },
              { key: "status", label: "center.col.status" },
              { key: "created_at", label: "center.col.requested" },
              { key: "decided_at", label: "center.col.decided" },
              { key: "decision_reason", label: "center.col.decision" },
            ],
            requests.map((item) => ({ ...item, field: code("center.field", item.field), status: code("center.status", item.status) })),
          )
        : h("p", {}, t("center.changes.none")),
    ),
  );
}
