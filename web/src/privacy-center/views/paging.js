/**
 * A store of the access report, paged: the report holds each store's first page with its count and
 * `next_cursor`; `GET /v1/me/stores/{store}?cursor=` gives the next page, until `next_cursor` is null
 * (docs/openapi.json `StorePage`). Items are under `items`, except the consents' (`history`).
 * @module privacy-center/views/paging
 */
import { t } from "../../shared/i18n.js";
import { announce, errorMessage, focus, h } from "../../shared/ui.js";

/**
 * The items of one page of a store.
 * @param {Record<string, any> | undefined} page
 * @returns {Record<string, any>[]}
 */
export function itemsOf(page) {
  if (!page) return [];
  if (Array.isArray(page.items)) return page.items;
  if (Array.isArray(page.history)) return page.history;
  if (page.categories && typeof page.categories === "object") {
    return Object.entries(page.categories).map(([category, fields]) => ({ category, ...fields }));
  }
  return [];
}

/**
 * The first page of `store` rendered with `render(items, offset)`, and a button that loads the next.
 * @param {import("../main.js").Context} ctx
 * @param {string} store the data-map store's name
 * @param {Record<string, any> | undefined} first the report's page of it
 * @param {(items: Record<string, any>[], offset: number) => HTMLElement} render
 * @returns {HTMLElement}
 */
export function pager(ctx, store, first, render) {
  const items = itemsOf(first);
  const count = typeof first?.count === "number" ? first.count : items.length;
  let shown = items.length;
  let cursor = first?.next_cursor ?? null;
  const summary = h("p", { class: "count", "data-count": String(count) }, t("center.paging.summary", { shown, count }));
  const chunks = h("div", { class: "pages" }, items.length ? render(items, 0) : h("p", {}, t("center.paging.none")));
  const more = h(
    "button",
    {
      type: "button",
      class: "secondary",
      hidden: !cursor,
      onclick: async () => {
        more.disabled = true;
        try {
          const next = await ctx.api.get(`/v1/me/stores/${encodeURIComponent(store)}?cursor=${encodeURIComponent(cursor)}`);
          const added = itemsOf(next);
          const chunk = render(added, shown);
          chunks.appendChild(chunk);
          shown += added.length;
          cursor = next.next_cursor ?? null;
          summary.textContent = t("center.paging.summary", { shown, count });
          more.hidden = !cursor;
          announce(t("center.paging.loaded", { added: added.length, shown, count }), "success");
          if (!cursor) focus(chunk);
        } catch (error) {
          announce(errorMessage(error), "error");
        } finally {
          more.disabled = false;
        }
      },
    },
    t("center.paging.more"),
  );
  return h("div", { class: "paged", "data-store": store }, summary, chunks, h("div", { class: "actions" }, more));
}
