/**
 * Restriction of processing (GDPR art. 18: `POST`/`DELETE /v1/me/restriction`, a declared ground) and
 * objection (art. 21: `POST /v1/me/objections/{purpose}`, for the purposes that admit one).
 * @module privacy-center/views/rights
 */
import { formatDate, language, t } from "../../shared/i18n.js";
import { announce, details, errorMessage, h, uid } from "../../shared/ui.js";
import { PURPOSES } from "../purposes.js";
import { code, page, submit } from "./common.js";

export const title = "center.rights.title";
export const GROUNDS = ["accuracy_contested", "unlawful_processing", "needed_for_legal_claims", "objection_pending"];

/** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
export async function render(ctx, main) {
  const report = await ctx.report();
  const restriction = report.restriction;
  const granted = report.stores?.consents?.granted ?? {};
  const lang = language();

  let restrictionPart;
  if (restriction) {
    const lift = h(
      "button",
      {
        type: "button",
        onclick: async () => {
          lift.disabled = true;
          try {
            await ctx.api.delete("/v1/me/restriction");
            announce(t("center.rights.lifted"), "success");
            ctx.go("rights");
          } catch (error) {
            announce(errorMessage(error), "error");
            lift.disabled = false;
          }
        },
      },
      t("center.rights.lift"),
    );
    restrictionPart = [
      h("p", { class: "notice" }, t("center.rights.restrictedNow")),
      details([
        [t("center.rights.ground"), code("center.ground", restriction.ground)],
        [t("center.rights.article"), restriction.article ?? "—"],
        [t("center.rights.since"), formatDate(restriction.since)],
      ]),
      h("div", { class: "actions" }, lift),
    ];
  } else {
    const name = uid("ground");
    const form = h(
      "form",
      {
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          void submit(form, async () => {
            const chosen = /** @type {HTMLInputElement | null} */ (form.querySelector(`input[name=${name}]:checked`));
            const ground = chosen?.value ?? "";
            const result = await ctx.api.post("/v1/me/restriction", { ground });
            announce(t("center.rights.restricted", { article: result.article ?? "" }), "success");
            ctx.go("rights");
          });
        },
      },
      h(
        "fieldset",
        { "data-field": "ground" },
        h("legend", {}, t("center.rights.why")),
        GROUNDS.map((ground, index) =>
          h(
            "div",
            {},
            h("input", { type: "radio", id: `${name}-${ground}`, name, value: ground, checked: index === 0 }),
            " ",
            h("label", { for: `${name}-${ground}` }, code("center.ground", ground)),
          ),
        ),
        h("p", { class: "field-error", hidden: true }),
      ),
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("center.rights.restrict"))),
    );
    restrictionPart = [h("p", {}, t("center.rights.notRestricted")), form];
  }

  const objections = PURPOSES.filter((purpose) => purpose.objectable).map((purpose) => {
    const result = h("p", { class: "result", "aria-live": "polite" });
    const button = h(
      "button",
      {
        type: "button",
        class: "secondary",
        onclick: async () => {
          button.disabled = true;
          try {
            const change = await ctx.api.post(`/v1/me/objections/${encodeURIComponent(purpose.name)}`);
            result.textContent = change.erasure
              ? t("center.rights.objectedErasing", { categories: change.erasure.categories.map((c) => code("center.category", c)).join(", ") })
              : t("center.rights.objected");
            announce(t("center.rights.objected"), "success");
          } catch (error) {
            result.textContent = errorMessage(error);
          } finally {
            button.disabled = false;
          }
        },
      },
      t("center.rights.object", { purpose: purpose.title[lang] }),
    );
    return h(
      "div",
      { class: "objection", "data-purpose": purpose.name },
      h("h3", {}, purpose.title[lang], " ", h("span", { class: granted[purpose.name] ? "badge on" : "badge off" }, t(granted[purpose.name] ? "center.consents.on" : "center.consents.off"))),
      h("p", {}, t("center.rights.objectEffect")),
      h("div", { class: "actions" }, button),
      result,
    );
  });

  page(
    main,
    title,
    "center.rights.lead",
    h("section", { class: "card", "aria-labelledby": "rights-restriction" }, h("h2", { id: "rights-restriction" }, t("center.rights.restriction")), h("p", {}, t("center.rights.restrictionText")), restrictionPart),
    h("section", { class: "card", "aria-labelledby": "rights-objection" }, h("h2", { id: "rights-objection" }, t("center.rights.objection")), h("p", {}, t("center.rights.objectionText")), objections),
  );
}
