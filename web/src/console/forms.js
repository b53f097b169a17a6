/**
 * The console's forms and tables: labelled fields, one submit, API field errors inline, a refusal or
 * failure shown in an alert inside the form (`role="alert"`), all text through `textContent`.
 * @module console/forms
 */
import { fieldMessages } from "../shared/api.js";
import { t } from "../shared/i18n.js";
import { announce, busy, clearFieldErrors, field, h, replace, showFieldErrors } from "../shared/ui.js";
import { explain } from "./context.js";

/**
 * @typedef {import("../shared/ui.js").FieldOptions} FieldOptions
 * @typedef {Record<string, string>} Values the inputs' values by name
 */

/**
 * A form that calls `submit(values)` and shows what came of it.
 * @param {object} options
 * @param {import("./context.js").Console} options.context
 * @param {string} options.label the form's accessible name
 * @param {FieldOptions[]} options.fields
 * @param {string} options.submitLabel
 * @param {string} options.allowed who may: "support", "privacy_officer" or "auditor" (for a refusal's message)
 * @param {(values: Values) => Promise<string | void>} options.submit resolves with a success message to announce
 * @param {string} [options.className]
 * @returns {HTMLFormElement}
 */
export function actionForm({ context, label, fields, submitLabel, allowed, submit, className }) {
  const made = fields.map((options) => field(options));
  const outcome = h("div", { class: "outcome" });
  const button = /** @type {HTMLButtonElement} */ (h("button", { type: "submit" }, submitLabel));
  const form = /** @type {HTMLFormElement} */ (
    h(
      "form",
      { "aria-label": label, class: className, novalidate: true },
      made.map((item) => item.root),
      h("div", { class: "actions" }, button),
      outcome,
    )
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    replace(outcome);
    const values = Object.fromEntries(made.map((item) => [item.input.name, item.input.value.trim()]));
    const missing = Object.fromEntries(
      fields.filter((options) => options.required && !values[options.name]).map((options) => [options.name, t("form.required")]),
    );
    if (Object.keys(missing).length) {
      showFieldErrors(form, missing);
      return;
    }
    void busy(button, async () => {
      try {
        const message = await submit(values);
        if (message) announce(message, "success");
      } catch (error) {
        const fields = fieldMessages(/** @type {{details?: unknown}} */ (error)?.details);
        const unmatched = showFieldErrors(form, fields);
        const { message, refused } = await explain(context, error, allowed);
        const shown = unmatched.length ? `${message} (${unmatched.join(", ")})` : message;
        replace(outcome, h("p", { class: refused ? "refused" : "alert", role: "alert" }, shown));
        announce(shown, "error");
      }
    });
  });
  return form;
}

/**
 * A table with a caption, a header row and a row per item (cells as text or nodes).
 * @param {string} caption
 * @param {string[]} headers
 * @param {import("../shared/ui.js").Child[][]} rows
 * @param {string} [className]
 * @returns {HTMLElement}
 */
export function table(caption, headers, rows, className = "") {
  if (rows.length === 0) return h("p", { class: "notice" }, t("console.none"));
  return h(
    "table",
    { class: className },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell ?? "—"))))),
  );
}

/**
 * An alert for a failed load (a refusal by role said plainly).
 * @param {import("./context.js").Console} context
 * @param {unknown} error
 * @param {string} allowed
 * @returns {Promise<HTMLElement>}
 */
export async function loadFailure(context, error, allowed) {
  const { message, refused } = await explain(context, error, allowed);
  return h("p", { class: refused ? "refused" : "alert", role: "alert" }, message);
}

/** Split a comma-separated list into trimmed, non-empty items. @param {string} text */
export function list(text) {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}
