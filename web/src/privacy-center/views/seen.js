/**
 * Who has seen my data: the access log (`staff_access`: every staff read and grant, when, for which
 * purpose and ticket, which categories) and the disclosures to sub-processors — the access report's
 * stores, paged on with their cursors.
 * @module privacy-center/views/seen
 */
import { t } from "../../shared/i18n.js";
import { h } from "../../shared/ui.js";
import { code, page, text } from "./common.js";
import { pager } from "./paging.js";

export const title = "center.seen.title";

const ACCESS_COLUMNS = ["at", "kind", "staff_id", "purpose", "ticket", "categories"];
const DISCLOSURE_COLUMNS = ["at", "processor_id", "purpose", "categories"];

function log(captionKey, columns, items, offset) {
  return h(
    "table",
    { "data-offset": String(offset) },
    h("caption", {}, t(captionKey)),
    h("thead", {}, h("tr", {}, columns.map((key) => h("th", { scope: "col" }, code("center.field", key))))),
    h(
      "tbody",
      {},
      items.map((item) =>
        h(
          "tr",
          {},
          columns.map((key) => {
            // A grant is dated by its `created_at`, a read and a disclosure by their `at`.
            let value = key === "at" ? item.at ?? item.created_at : item[key];
            if (key === "kind") value = code("center.accessKind", value);
            if (key === "purpose") value = code("center.purpose", value);
            if (key === "categories" && Array.isArray(value)) value = value.map((c) => code("center.category", c));
            return h("td", {}, text(key, value));
          }),
        ),
      ),
    ),
  );
}

/** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
export async function render(ctx, main) {
  const report = await ctx.report();
  page(
    main,
    title,
    "center.seen.lead",
    h(
      "section",
      { class: "card", "aria-labelledby": "seen-staff" },
      h("h2", { id: "seen-staff" }, t("center.seen.staff")),
      pager(ctx, "staff_access", report.stores?.staff_access, (items, offset) => log("center.seen.staff", ACCESS_COLUMNS, items, offset)),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "seen-disclosures" },
      h("h2", { id: "seen-disclosures" }, t("center.seen.disclosures")),
      pager(ctx, "disclosures", report.stores?.disclosures, (items, offset) => log("center.seen.disclosures", DISCLOSURE_COLUMNS, items, offset)),
    ),
  );
}
