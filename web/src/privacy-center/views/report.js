/**
 * The access report (GDPR art. 15): everything held, store by store, as `GET /v1/me` gives it —
 * each store's first page with its count, and the next pages on demand (`paging.js`) — and how long
 * each category is kept, for which purposes.
 * @module privacy-center/views/report
 */
import { formatDate, t } from "../../shared/i18n.js";
import { h } from "../../shared/ui.js";
import { code, page, text } from "./common.js";
import { pager } from "./paging.js";

export const title = "center.report.title";

/**
 * A table of items whose columns are the union of their fields, in first-seen order.
 * @param {string} store
 * @param {Record<string, any>[]} items
 * @param {number} offset
 * @returns {HTMLElement}
 */
export function itemsTable(store, items, offset) {
  const columns = [];
  for (const item of items) for (const key of Object.keys(item)) if (!columns.includes(key)) columns.push(key);
  return h(
    "table",
    { "data-offset": String(offset) },
    h("caption", {}, t("center.report.rows", { store: code("center.store", store), from: offset + 1, to: offset + items.length })),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "#"), columns.map((key) => h("th", { scope: "col" }, code("center.field", key))))),
    h(
      "tbody",
      {},
      items.map((item, index) =>
        h("tr", {}, h("td", {}, String(offset + index + 1)), columns.map((key) => h("td", {}, text(key, item[key])))),
      ),
    ),
  );
}

/** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
export async function render(ctx, main) {
  const report = await ctx.report();
  const stores = Object.entries(report.stores ?? {});
  const retention = Object.entries(report.retention ?? {});
  page(
    main,
    title,
    "center.report.lead",
    h("p", {}, t("center.report.generated", { at: formatDate(report.generated_at), version: report.report_version })),
    stores.map(([store, first]) =>
      h(
        "section",
        { class: "card", "aria-labelledby": `store-${store}`, "data-store": store },
        h("h2", { id: `store-${store}` }, code("center.store", store)),
        pager(ctx, store, first, (items, offset) => itemsTable(store, items, offset)),
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "retention" },
      h("h2", { id: "retention" }, t("center.report.retention")),
      h(
        "table",
        {},
        h("caption", {}, t("center.report.retention")),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["center.col.category", "center.col.purposes", "center.col.keptUntil", "center.col.days"].map((key) => h("th", { scope: "col" }, t(key))),
          ),
        ),
        h(
          "tbody",
          {},
          retention.map(([category, entry]) =>
            h(
              "tr",
              {},
              h("td", {}, code("center.category", category)),
              h("td", {}, (entry.purposes ?? []).map((name) => code("center.purpose", name)).join(", ")),
              h("td", {}, String(entry.kept_until ?? "—")),
              h("td", {}, entry.retention_days == null ? "—" : String(entry.retention_days)),
            ),
          ),
        ),
      ),
    ),
  );
}
