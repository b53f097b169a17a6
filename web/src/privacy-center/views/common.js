/**
 * What the privacy center's views share: the page frame, forms that report the API's field errors
 * inline, and small renderers of API data (always as text).
 * @module privacy-center/views/common
 */
import { formatDate, t } from "../../shared/i18n.js";
import { alertBox, announce, clearFieldErrors, errorMessage, h, replace, showFieldErrors } from "../../shared/ui.js";

/**
 * Fill `main` with the view's heading, its lead paragraph and `children`.
 * @param {HTMLElement} main
 * @param {string} titleKey
 * @param {string | null} leadKey
 * @param {...any} children
 */
export function page(main, titleKey, leadKey, ...children) {
  replace(main, h("h1", {}, t(titleKey)), leadKey ? h("p", { class: "lead" }, t(leadKey)) : null, ...children);
}

/**
 * Run a form's submission: clear its errors, run `action`, and on a refusal show the API's field errors
 * under their fields (the rest, and any other error, in an alert at the top of the form).
 * @param {HTMLFormElement} form
 * @param {() => Promise<void>} action
 * @param {{fieldPrefix?: string, aliases?: Record<string, string>}} [options] `fieldPrefix` is taken off the
 *   API's field paths; `aliases` names the form field that stands for an API field (the file input for
 *   `file_name` and `content_type`)
 */
export async function submit(form, action, { fieldPrefix = "", aliases = {} } = {}) {
  clearFieldErrors(form);
  form.querySelector(":scope > .alert")?.remove();
  const button = /** @type {HTMLButtonElement | null} */ (form.querySelector("button[type=submit]"));
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    await action();
  } catch (error) {
    const fields = error?.name === "ApiError" ? error.fieldMessages() : {};
    const named = Object.fromEntries(
      Object.entries(fields).map(([path, reason]) => [
        aliases[path] ?? (path.startsWith(fieldPrefix) ? path.slice(fieldPrefix.length) : path),
        error.status ? t("form.apiReason", { reason }) : reason, // the API's words, or the page's own (status 0)
      ]),
    );
    const unmatched = showFieldErrors(form, named);
    // Errors of fields the form does not show are spelled out, never left to "the highlighted fields".
    const message = unmatched.length
      ? unmatched.map((path) => `${path}: ${named[path]}`).join(" ")
      : Object.keys(named).length ? t("form.fixErrors") : errorMessage(error);
    form.prepend(alertBox(message));
    announce(message, "error");
    if (Object.keys(named).length === unmatched.length) {
      /** @type {HTMLElement | null} */ (form.querySelector(":scope > .alert"))?.focus?.();
    }
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}

/**
 * A value from the API as text: dates formatted, lists joined, objects as compact JSON.
 * @param {string} key the field's name (dates end in `_at`, `_date`, `since`, `until`)
 * @param {unknown} value
 * @returns {string}
 */
export function text(key, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string" && /(_at|_date|^since|^until|^at)$/.test(key)) return formatDate(value);
  if (Array.isArray(value)) return value.map((item) => text("", item)).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/**
 * A table of `items` with the given columns (headers translated), values as text.
 * @param {string} captionKey
 * @param {{key: string, label: string}[]} columns
 * @param {Record<string, unknown>[]} items
 * @returns {HTMLElement}
 */
export function table(captionKey, columns, items) {
  return h(
    "table",
    {},
    h("caption", {}, t(captionKey)),
    h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col" }, t(column.label))))),
    h(
      "tbody",
      {},
      items.map((item) => h("tr", {}, columns.map((column) => h("td", {}, text(column.key, item[column.key]))))),
    ),
  );
}

/**
 * A purpose's name for people: its policy title when it is one we describe, else the code.
 * @param {string} code
 * @param {(name: string) => {title: Record<string, string>} | undefined} lookup
 * @param {string} language
 */
export function purposeTitle(code, lookup, language) {
  const found = lookup(code);
  return found ? found.title[language] ?? found.title.en : code;
}

/** A translated code (`prefix.code`), the code itself when there is no string for it. */
export function code(prefix, value) {
  const key = `${prefix}.${value}`;
  const found = t(key);
  return found === key ? String(value) : found;
}
