/**
 * The portable export (GDPR art. 20): ask for one (`POST /v1/me/exports`), follow it until it is
 * ready (`GET /v1/me/exports/{id}`), then download the archive by its short-lived link. The link is
 * asked for when the customer clicks, so it is fresh.
 * @module privacy-center/views/exports
 */
import { idempotencyKey } from "../../shared/api.js";
import { t } from "../../shared/i18n.js";
import { announce, errorMessage, h } from "../../shared/ui.js";
import { code, page, table, text } from "./common.js";

export const title = "center.exports.title";
const POLL_MS = 1000;
const UNFINISHED = new Set(["queued", "running"]);

/** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
export async function render(ctx, main) {
  const listed = await ctx.api.get("/v1/me/exports");
  const exports = Array.isArray(listed.exports) ? listed.exports : [];
  const status = h("p", { class: "export-status", "aria-live": "polite" });
  const link = h("p", { class: "export-download" });

  const follow = async (view) => {
    let current = view;
    while (UNFINISHED.has(current.status) && main.isConnected) {
      status.textContent = t("center.exports.progress", { status: code("center.exportStatus", current.status) });
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      current = await ctx.api.get(current.status_url);
    }
    if (current.status === "ready" && !current.download?.url) current = await ctx.api.get(current.status_url);
    status.textContent = t("center.exports.progress", { status: code("center.exportStatus", current.status) });
    if (current.status === "ready" && current.download?.url) {
      link.replaceChildren(
        h("a", { class: "button", href: current.download.url, rel: "noopener" }, t("center.exports.download")),
        " ",
        t("center.exports.linkUntil", { until: text("expires_at", current.download.expires_at), size: current.size_bytes ?? "—" }),
      );
      announce(t("center.exports.ready"), "success");
    }
  };

  const request = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        request.disabled = true;
        try {
          const started = await ctx.api.post("/v1/me/exports", undefined, { "Idempotency-Key": idempotencyKey() });
          announce(t("center.exports.started"), "info");
          await follow(started);
        } catch (error) {
          announce(errorMessage(error), "error");
        } finally {
          request.disabled = false;
        }
      },
    },
    t("center.exports.request"),
  );

  const ready = exports.find((item) => item.status === "ready");
  page(
    main,
    title,
    "center.exports.lead",
    h("div", { class: "actions" }, request),
    status,
    link,
    h(
      "section",
      { class: "card", "aria-labelledby": "exports-list" },
      h("h2", { id: "exports-list" }, t("center.exports.list")),
      exports.length
        ? table(
            "center.exports.list",
            [
              { key: "created_at", label: "center.col.requested" },
              { key: "status", label: "center.col.status" },
              { key: "size_bytes", label: "center.col.size" },
              { key: "expires_at", label: "center.col.expires" },
            ],
            exports.map((item) => ({ ...item, status: code("center.exportStatus", item.status) })),
          )
        : h("p", {}, t("center.exports.none")),
      ready
        ? h(
            "button",
            { type: "button", class: "secondary", onclick: () => follow(ready).catch((error) => announce(errorMessage(error), "error")) },
            t("center.exports.latest"),
          )
        : null,
    ),
  );
}
