/**
 * The profile by category (identity, contact, preferences, payment): one form each, saved with
 * `PATCH /v1/me/profile` against the version read (`If-Match`). The API's validation errors are
 * shown under the field they name (`contact.phone`, `contact.address.postal_code`, ...). Verified
 * fields (legal name, birth date) once set change only through a change request.
 * @module privacy-center/views/profile
 */
import { t } from "../../shared/i18n.js";
import { announce, details, field, h } from "../../shared/ui.js";
import { code, page, submit, text } from "./common.js";

export const title = "center.profile.title";

const CHANNELS = ["email", "sms", "phone", "post", "push"];
const VERIFIED = ["legal_name", "birth_date"];

/**
 * The fields of each category's form: name (the API's path inside the category), label key, options.
 * @type {Record<string, {path: string, label: string, type?: string, autocomplete?: string, hint?: string, inputmode?: string}[]>}
 */
const FORMS = {
  identity: [
    { path: "legal_name", label: "center.field.legal_name", autocomplete: "name", hint: "center.hint.name" },
    { path: "preferred_name", label: "center.field.preferred_name", autocomplete: "nickname" },
    { path: "birth_date", label: "center.field.birth_date", type: "date", autocomplete: "bday" },
  ],
  contact: [
    { path: "phone", label: "center.field.phone", type: "tel", autocomplete: "tel", hint: "center.hint.phone" },
    { path: "address.line1", label: "center.field.line1", autocomplete: "address-line1" },
    { path: "address.line2", label: "center.field.line2", autocomplete: "address-line2" },
    { path: "address.city", label: "center.field.city", autocomplete: "address-level2" },
    { path: "address.region", label: "center.field.region", autocomplete: "address-level1", hint: "center.hint.region" },
    { path: "address.postal_code", label: "center.field.postal_code", autocomplete: "postal-code" },
    { path: "address.country", label: "center.field.country", autocomplete: "country", hint: "center.hint.country" },
  ],
  preferences: [
    { path: "interests", label: "center.field.interests", hint: "center.hint.interests" },
    { path: "language", label: "center.field.language", hint: "center.hint.language" },
  ],
  payment: [
    { path: "card_number", label: "center.field.card_number", autocomplete: "cc-number", inputmode: "numeric" },
    { path: "expiry_month", label: "center.field.expiry_month", type: "number", autocomplete: "cc-exp-month" },
    { path: "expiry_year", label: "center.field.expiry_year", type: "number", autocomplete: "cc-exp-year" },
    { path: "holder_name", label: "center.field.holder_name", autocomplete: "cc-name" },
  ],
};
const NUMBERS = new Set(["expiry_month", "expiry_year"]);

function valueAt(object, path) {
  return path.split(".").reduce((found, part) => (found && typeof found === "object" ? found[part] : undefined), object);
}

function setAt(object, path, value) {
  const parts = path.split(".");
  let target = object;
  for (const part of parts.slice(0, -1)) target = target[part] ??= {};
  target[parts[parts.length - 1]] = value;
}

/** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
export async function render(ctx, main) {
  const report = await ctx.report();
  const store = report.stores?.profiles ?? {};
  const categories = /** @type {Record<string, any>} */ (store.categories ?? {});
  const version = String(store.version ?? "");
  const sections = Object.entries(FORMS).map(([category, fields]) => {
    const stored = categories[category] ?? {};
    const headingId = `profile-${category}`;
    const inputs = [];
    const children = [];
    for (const spec of fields) {
      const current = valueAt(stored, spec.path);
      const locked = category === "identity" && VERIFIED.includes(spec.path) && current;
      if (locked) {
        children.push(
          h(
            "div",
            { class: "field" },
            h("p", {}, h("strong", {}, t(spec.label)), ": ", text(spec.path, current)),
            h("p", { class: "hint" }, t("center.profile.verified"), " ", h("a", { href: "#/changes" }, t("center.changes.title"))),
          ),
        );
        continue;
      }
      const shown = Array.isArray(current) ? current.join(", ") : current;
      const made = field({
        name: `${category}.${spec.path}`,
        label: t(spec.label),
        type: spec.type,
        value: shown === undefined || shown === null ? "" : String(shown),
        autocomplete: spec.autocomplete,
        inputmode: spec.inputmode,
        hint: spec.hint ? t(spec.hint) : undefined,
      });
      inputs.push([spec.path, made.input]);
      children.push(made.root);
    }
    let channelBoxes = [];
    if (category === "preferences") {
      const chosen = new Set(stored.channels ?? []);
      channelBoxes = CHANNELS.map((channel) => {
        const box = h("input", { type: "checkbox", id: `channel-${channel}`, value: channel, checked: chosen.has(channel) });
        return [box, h("div", {}, box, " ", h("label", { for: `channel-${channel}` }, code("center.channel", channel)))];
      });
      children.unshift(
        h(
          "fieldset",
          { "data-field": "preferences.channels" },
          h("legend", {}, t("center.field.channels")),
          channelBoxes.map(([, row]) => row),
          h("p", { class: "field-error", hidden: true }),
        ),
      );
    }
    const form = h(
      "form",
      {
        novalidate: true,
        "aria-labelledby": headingId,
        onsubmit: (event) => {
          event.preventDefault();
          void submit(form, async () => {
            const body = {};
            for (const [path, input] of inputs) {
              const raw = input.value.trim();
              if (!raw) continue;
              let value = NUMBERS.has(path) ? Number(raw) : raw;
              if (path === "interests") value = raw.split(",").map((item) => item.trim()).filter(Boolean);
              setAt(body, path, value);
            }
            if (category === "preferences") {
              const channels = channelBoxes.filter(([box]) => box.checked).map(([box]) => box.value);
              if (channels.length) body.channels = channels;
            }
            await ctx.api.patch("/v1/me/profile", { [category]: body }, version ? { "If-Match": version } : {});
            announce(t("center.profile.saved", { category: code("center.category", category) }), "success");
            ctx.go("profile");
          });
        },
      },
      children,
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("center.profile.save", { category: code("center.category", category) }))),
    );
    return h(
      "section",
      { class: "card", "data-category": category },
      h("h2", { id: headingId }, code("center.category", category)),
      category === "payment" && stored && Object.keys(stored).length
        ? details(Object.entries(stored).map(([key, value]) => [code("center.field", key), text(key, value)]))
        : null,
      form,
    );
  });
  const health = categories.health;
  page(
    main,
    title,
    "center.profile.lead",
    sections,
    health
      ? h(
          "section",
          { class: "card" },
          h("h2", {}, code("center.category", "health")),
          h("pre", { class: "data" }, JSON.stringify(health, null, 2)),
        )
      : null,
  );
}
