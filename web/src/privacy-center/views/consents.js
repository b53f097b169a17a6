/**
 * Consents per purpose: the policy's text and version, whether it is granted (and under which
 * version), grant and withdraw (`POST /v1/me/consents`, `DELETE /v1/me/consents/{purpose}`).
 * Withdrawing a purpose erases what it alone justified: the view says so before, and names the
 * erasure the API started after.
 * @module privacy-center/views/consents
 */
import { idempotencyKey } from "../../shared/api.js";
import { formatDate, language, t } from "../../shared/i18n.js";
import { announce, errorMessage, h } from "../../shared/ui.js";
import { POLICY_VERSION, PURPOSES } from "../purposes.js";
import { code, page } from "./common.js";

export const title = "center.consents.title";

/** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
export async function render(ctx, main) {
  const report = await ctx.report();
  const granted = /** @type {Record<string, string>} */ (report.stores?.consents?.granted ?? {});
  const retention = /** @type {Record<string, {purposes?: string[]}>} */ (report.retention ?? {});
  const lang = language();

  const cards = PURPOSES.map((purpose) => {
    const headingId = `purpose-${purpose.name}`;
    const version = granted[purpose.name];
    const categories = Object.entries(retention)
      .filter(([, entry]) => (entry.purposes ?? []).includes(purpose.name))
      .map(([category]) => code("center.category", category));
    const result = h("p", { class: "result", hidden: true });
    const act = async (button, action) => {
      button.disabled = true;
      try {
        const change = await action();
        const message = change?.erasure
          ? t("center.consents.erasureStarted", { categories: change.erasure.categories.map((c) => code("center.category", c)).join(", ") })
          : t(version ? "center.consents.withdrawn" : "center.consents.granted", { purpose: purpose.title[lang] });
        announce(message, "success");
        ctx.go("consents");
      } catch (error) {
        result.hidden = false;
        result.className = "alert";
        result.setAttribute("role", "alert");
        result.textContent = errorMessage(error);
        button.disabled = false;
      }
    };
    const button = version
      ? h(
          "button",
          {
            type: "button",
            class: "secondary",
            "aria-describedby": `${headingId}-effect`,
            onclick: (event) =>
              act(event.currentTarget, () => ctx.api.delete(`/v1/me/consents/${encodeURIComponent(purpose.name)}`)),
          },
          t("center.consents.withdraw", { purpose: purpose.title[lang] }),
        )
      : h(
          "button",
          {
            type: "button",
            onclick: (event) =>
              act(event.currentTarget, () =>
                ctx.api.post(
                  "/v1/me/consents",
                  { purpose: purpose.name, policy_version: POLICY_VERSION, channel: "web" },
                  { "Idempotency-Key": idempotencyKey() },
                ),
              ),
          },
          t("center.consents.grant", { purpose: purpose.title[lang] }),
        );
    return h(
      "section",
      { class: "card", "aria-labelledby": headingId, "data-purpose": purpose.name },
      h("h2", { id: headingId }, purpose.title[lang], " ", h("span", { class: version ? "badge on" : "badge off" }, t(version ? "center.consents.on" : "center.consents.off"))),
      h("p", {}, purpose.text[lang]),
      h(
        "p",
        { class: "hint" },
        t("center.consents.policy", { version: version ?? POLICY_VERSION }),
        categories.length ? ` ${t("center.consents.covers", { categories: categories.join(", ") })}` : "",
      ),
      version ? h("p", { id: `${headingId}-effect`, class: "hint" }, t(purpose.essential ? "center.consents.essentialEffect" : "center.consents.effect")) : null,
      h("div", { class: "actions" }, button),
      result,
    );
  });

  const history = Array.isArray(report.stores?.consents?.history) ? report.stores.consents.history : [];
  page(
    main,
    title,
    "center.consents.lead",
    cards,
    h(
      "section",
      { class: "card", "aria-labelledby": "consent-history" },
      h("h2", { id: "consent-history" }, t("center.consents.history")),
      history.length
        ? h(
            "ul",
            {},
            history
              .slice()
              .reverse()
              .map((event) =>
                h(
                  "li",
                  {},
                  t("center.consents.event", {
                    at: formatDate(event.at),
                    action: code("center.action", event.action),
                    purpose: PURPOSES.find((p) => p.name === event.purpose)?.title[lang] ?? event.purpose,
                    version: event.policy_version ?? "—",
                  }),
                ),
              ),
          )
        : h("p", {}, t("center.consents.noHistory")),
    ),
  );
}
