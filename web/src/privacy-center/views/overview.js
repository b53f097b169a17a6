/**
 * The overview: the account, a restriction or legal hold in force, and the customer's open requests
 * with when each is due — from the access report (`GET /v1/me`).
 * @module privacy-center/views/overview
 */
import { formatDate, t } from "../../shared/i18n.js";
import { details, h } from "../../shared/ui.js";
import { code, page, table } from "./common.js";

export const title = "center.overview.title";

/** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
export async function render(ctx, main) {
  const report = await ctx.report();
  const requests = Array.isArray(report.requests) ? report.requests : [];
  page(
    main,
    title,
    "center.overview.lead",
    h(
      "section",
      { class: "card", "aria-labelledby": "overview-account" },
      h("h2", { id: "overview-account" }, t("center.overview.account")),
      details([
        [t("auth.email"), report.email ?? "—"],
        [t("center.overview.status"), code("center.accountStatus", report.account?.status)],
        [t("center.overview.since"), formatDate(report.account?.created_at)],
        [t("center.overview.lastActive"), formatDate(report.account?.last_active_at)],
      ]),
    ),
    report.restriction
      ? h(
          "p",
          { class: "notice" },
          t("center.overview.restricted", {
            ground: code("center.ground", report.restriction.ground),
            since: formatDate(report.restriction.since),
          }),
          " ",
          h("a", { href: "#/rights" }, t("center.rights.title")),
        )
      : null,
    report.legal_hold ? h("p", { class: "notice" }, t("center.overview.held", { until: formatDate(report.legal_hold.until) })) : null,
    h(
      "section",
      { class: "card", "aria-labelledby": "overview-requests" },
      h("h2", { id: "overview-requests" }, t("center.overview.requests")),
      requests.length
        ? table(
            "center.overview.requests",
            [
              { key: "kind", label: "center.col.kind" },
              { key: "status", label: "center.col.status" },
              { key: "received_at", label: "center.col.received" },
              { key: "due_date", label: "center.col.due" },
            ],
            requests.map((item) => ({
              ...item,
              kind: code("center.kind", item.kind),
              status: code("center.status", item.status),
            })),
          )
        : h("p", {}, t("center.overview.noRequests")),
    ),
  );
}
