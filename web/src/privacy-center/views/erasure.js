/**
 * Withdrawal and erasure. `withdraw`: what withdrawing means, then a confirmation dialog before
 * `POST /v1/me/withdrawal`. `progress`: the erasure followed live (`GET /v1/requests/{id}`, which needs
 * no token: the account is gone by the end) to its certificate and the date after which no copy can
 * be read. The request id is kept in sessionStorage (`ERASURE_KEY`) so a reload finds it; never in the URL.
 * @module privacy-center/views/erasure
 */
import { formatDate, t } from "../../shared/i18n.js";
import { announce, details, errorMessage, focus, h, replace } from "../../shared/ui.js";
import { code, page } from "./common.js";

export const ERASURE_KEY = "custody.erasure";
const POLL_MS = 1000;
const FINISHED = new Set(["completed", "failed"]);

export const withdraw = {
  title: "center.withdraw.title",
  /** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
  async render(ctx, main) {
    const report = await ctx.report();
    const held = report.legal_hold;
    const problem = h("p", { class: "alert", role: "alert", hidden: true });
    const cancel = h("button", { type: "button", class: "secondary", autofocus: true, onclick: () => dialog.close("cancel") }, t("center.withdraw.cancel"));
    const confirmButton = h(
      "button",
      {
        type: "button",
        class: "danger",
        onclick: async () => {
          confirmButton.disabled = true;
          cancel.disabled = true;
          try {
            const accepted = await ctx.api.post("/v1/me/withdrawal", {});
            sessionStorage.setItem(ERASURE_KEY, String(accepted.request_id));
            dialog.close("confirmed");
            ctx.session.signOut();
            announce(t("center.withdraw.accepted"), "success");
            ctx.go("erasure");
          } catch (error) {
            problem.hidden = false;
            problem.textContent = errorMessage(error);
            confirmButton.disabled = false;
            cancel.disabled = false;
          }
        },
      },
      t("center.withdraw.confirm"),
    );
    const dialog = /** @type {HTMLDialogElement} */ (
      h(
        "dialog",
        { "aria-labelledby": "withdraw-dialog-title", "aria-describedby": "withdraw-dialog-text", class: "confirm" },
        h("h2", { id: "withdraw-dialog-title" }, t("center.withdraw.dialogTitle")),
        h("p", { id: "withdraw-dialog-text" }, t("center.withdraw.dialogText")),
        problem,
        h("div", { class: "actions" }, cancel, confirmButton),
      )
    );
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "confirmed") focus(/** @type {HTMLElement} */ (main.querySelector("#withdraw-open")));
    });
    const open = h(
      "button",
      {
        type: "button",
        id: "withdraw-open",
        class: "danger",
        onclick: () => {
          problem.hidden = true;
          dialog.returnValue = "";
          dialog.showModal();
          cancel.focus();
        },
      },
      t("center.withdraw.open"),
    );
    page(
      main,
      "center.withdraw.title",
      "center.withdraw.lead",
      h(
        "section",
        { class: "warning", "aria-labelledby": "withdraw-what" },
        h("h2", { id: "withdraw-what" }, t("center.withdraw.what")),
        h(
          "ul",
          {},
          ["center.withdraw.point1", "center.withdraw.point2", "center.withdraw.point3", "center.withdraw.point4"].map((key) => h("li", {}, t(key))),
        ),
      ),
      held ? h("p", { class: "notice" }, t("center.withdraw.held", { until: formatDate(held.until) })) : null,
      h("div", { class: "actions" }, open),
      dialog,
    );
  },
};

export const progress = {
  title: "center.erasure.title",
  /** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
  async render(ctx, main) {
    const requestId = sessionStorage.getItem(ERASURE_KEY);
    if (!requestId) {
      page(main, "center.erasure.title", null, h("p", {}, t("center.erasure.none")), h("p", {}, h("a", { href: "#/signin" }, t("center.signin.title"))));
      return;
    }
    const bar = h("progress", { id: "erasure-progress", max: "1", value: "0", "aria-labelledby": "erasure-step" });
    const step = h("p", { id: "erasure-step" }, t("center.erasure.waiting"));
    const outcome = h("div", { class: "outcome" });
    page(main, "center.erasure.title", "center.erasure.lead", h("section", { class: "card" }, step, bar), outcome);
    // Followed in the background: the view is shown (and its heading focused) at once.
    void follow(ctx, main, requestId, { bar, step, outcome });
  },
};

/**
 * Poll the request until it finishes or the view is left, updating the progress and announcing
 * each change of status; at the end show the certificate and move the focus to it.
 * @param {import("../main.js").Context} ctx
 * @param {HTMLElement} main
 * @param {string} requestId
 * @param {{bar: HTMLElement, step: HTMLElement, outcome: HTMLElement}} parts
 */
async function follow(ctx, main, requestId, { bar, step, outcome }) {
  const view = main.firstElementChild;
  const shown = () => main.isConnected && main.firstElementChild === view;
  let last = "";
  while (shown()) {
    let state;
    try {
      state = await ctx.api.get(`/v1/requests/${encodeURIComponent(requestId)}`);
    } catch (error) {
      step.textContent = errorMessage(error);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      continue;
    }
    const total = Number(state.steps_total) || 0;
    const done = Number(state.steps_done) || 0;
    bar.setAttribute("max", String(Math.max(total, 1)));
    bar.setAttribute("value", String(done));
    step.textContent = t("center.erasure.step", { done, total, status: code("center.status", state.status) });
    if (state.status !== last) {
      last = state.status;
      announce(t("center.erasure.now", { status: code("center.status", state.status) }), state.status === "failed" ? "error" : "info");
    }
    if (state.status === "held") {
      replace(outcome, h("p", { class: "notice" }, t("center.erasure.held", { until: formatDate(state.on_hold_until) })));
    }
    if (FINISHED.has(state.status)) {
      replace(outcome, certificate(state));
      focus(/** @type {HTMLElement} */ (outcome.querySelector("h2")));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * What a finished erasure proves: its certificate's digest, when it completed, after when nothing
 * can be read any more, and what a legal obligation keeps (or that it failed).
 * @param {Record<string, any>} state the request's status
 * @returns {HTMLElement}
 */
export function certificate(state) {
  if (state.status !== "completed") {
    return h("section", { class: "card", "aria-labelledby": "erasure-outcome" }, h("h2", { id: "erasure-outcome" }, t("center.erasure.failedTitle")), h("p", { role: "alert" }, t("center.erasure.failed")));
  }
  const retained = Array.isArray(state.retained) ? state.retained : [];
  return h(
    "section",
    { class: "card", "aria-labelledby": "erasure-outcome", "data-certified": "true" },
    h("h2", { id: "erasure-outcome" }, t("center.erasure.doneTitle")),
    h("p", {}, t("center.erasure.done")),
    details([
      [t("center.erasure.completed"), formatDate(state.completed_at ?? state.updated_at)],
      [t("center.erasure.digest"), h("code", { class: "mono certificate-digest" }, String(state.certificate_digest ?? "—"))],
      [t("center.erasure.unrecoverable"), h("span", { class: "unrecoverable-after" }, formatDate(state.unrecoverable_after))],
      [t("center.erasure.request"), h("code", { class: "mono" }, String(state.request_id))],
    ]),
    retained.length
      ? h(
          "div",
          {},
          h("h3", {}, t("center.erasure.retained")),
          h(
            "ul",
            {},
            retained.map((entry) =>
              h("li", {}, t("center.erasure.keptItem", { category: code("center.category", entry.category), basis: entry.legal_basis, until: formatDate(entry.until) })),
            ),
          ),
        )
      : null,
  );
}
