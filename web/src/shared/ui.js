/**
 * DOM building and accessible forms, with no HTML parsing anywhere.
 *
 * Every text goes in through `textContent` (never `innerHTML`): data from the API is shown, never
 * interpreted. Forms get real `<label>`s, hints and errors tied to their input by
 * `aria-describedby`, `aria-invalid` on a field in error, and focus moved to the first of them;
 * one polite `aria-live` status region per page announces what happened.
 * @module shared/ui
 */
import { has, LANGUAGE_NAMES, LANGUAGES, language, setLanguage, t } from "./i18n.js";

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Record<string, string | number | boolean | null | undefined | EventListener>} Attributes
 */

/**
 * An element: `h("button", {type: "button", onclick: go}, "Go")`. Attributes starting with `on` are
 * listeners; `class`, `for` and the rest are set as attributes; `true` sets an empty attribute and
 * `false`/null/undefined none. Children that are strings become text nodes.
 * @param {string} tag
 * @param {Attributes} [attributes]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else if (name === "value" && "value" in element) {
      /** @type {HTMLInputElement} */ (element).value = String(value);
    } else if (name === "checked" && "checked" in element) {
      /** @type {HTMLInputElement} */ (element).checked = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

/**
 * Append children (strings as text) to `parent`.
 * @param {Node} parent
 * @param {(Child | Child[])[]} children
 */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replace everything in `parent` with `children`.
 * @param {Node} parent
 * @param {...(Child | Child[])} children
 */
export function replace(parent, ...children) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

let counter = 0;
/** A page-unique id for tying labels, hints and errors to inputs. @param {string} prefix */
export function uid(prefix = "id") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * @typedef {object} FieldOptions
 * @property {string} name the input's name: the API's field path (`contact.phone`) to show its errors
 * @property {string} label
 * @property {string} [type] input type; "textarea" and "select" make those elements
 * @property {string} [value]
 * @property {string} [hint] shown under the label, announced with the input
 * @property {boolean} [required]
 * @property {string} [autocomplete]
 * @property {string} [inputmode]
 * @property {{value: string, label: string}[]} [options] for a select
 * @property {Attributes} [attributes] more attributes for the input
 */

/**
 * A labelled form field with its hint and (empty) error message.
 * @param {FieldOptions} options
 * @returns {{root: HTMLElement, input: HTMLInputElement, error: HTMLElement}}
 */
export function field(options) {
  const id = uid("field");
  const hintId = options.hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const common = {
    id,
    name: options.name,
    required: Boolean(options.required),
    autocomplete: options.autocomplete,
    inputmode: options.inputmode,
    "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
    ...(options.attributes ?? {}),
  };
  let input;
  if (options.type === "textarea") {
    input = h("textarea", common);
    input.value = options.value ?? "";
  } else if (options.type === "select") {
    input = h(
      "select",
      common,
      (options.options ?? []).map((option) =>
        h("option", { value: option.value, selected: option.value === options.value }, option.label),
      ),
    );
  } else {
    input = h("input", { ...common, type: options.type ?? "text", value: options.value ?? "" });
  }
  const error = h("p", { id: errorId, class: "field-error", hidden: true });
  const root = h(
    "div",
    { class: "field", "data-field": options.name },
    h("label", { for: id }, options.label, options.required ? h("span", { class: "required" }, " *") : null),
    hintId ? h("p", { id: hintId, class: "hint" }, options.hint) : null,
    input,
    error,
  );
  return { root, input: /** @type {HTMLInputElement} */ (input), error };
}

/**
 * Show errors by field name inside `form` (inline, under each field) and clear the others;
 * focus the first field in error. Returns the names that matched no field.
 * @param {HTMLElement} form
 * @param {Record<string, string>} messages by field name (the API's dotted path)
 * @returns {string[]}
 */
export function showFieldErrors(form, messages) {
  const unmatched = new Set(Object.keys(messages));
  let first = null;
  for (const root of form.querySelectorAll("[data-field]")) {
    const name = root.getAttribute("data-field") ?? "";
    const input = root.querySelector("input, select, textarea");
    const error = root.querySelector(".field-error");
    if (!input || !error) continue;
    const key = Object.keys(messages).find((path) => path === name || path.startsWith(`${name}.`));
    if (key === undefined) {
      input.removeAttribute("aria-invalid");
      error.hidden = true;
      error.textContent = "";
      continue;
    }
    unmatched.delete(key);
    input.setAttribute("aria-invalid", "true");
    error.hidden = false;
    error.textContent = messages[key];
    first ??= input;
  }
  if (first) /** @type {HTMLElement} */ (first).focus();
  return [...unmatched];
}

/** Clear every inline error of `form`. @param {HTMLElement} form */
export function clearFieldErrors(form) {
  showFieldErrors(form, {});
}

/**
 * The page's polite live region (created once, at the end of `<body>`), and a way to announce in it.
 * @param {string} message
 * @param {"info" | "success" | "error"} [kind]
 */
export function announce(message, kind = "info") {
  let region = document.getElementById("status");
  if (!region) {
    region = h("div", { id: "status", class: "status", role: "status", "aria-live": "polite" });
    document.body.appendChild(region);
  }
  region.className = `status status-${kind}`;
  region.textContent = message;
  region.dataset.fresh = "true";
}

/**
 * Called on every change of view: a message announced just before it (e.g. "Saved", then the view
 * re-rendered) stays for that view; an older one is cleared, so it never describes another view.
 */
export function ageStatus() {
  const region = document.getElementById("status");
  if (!region) return;
  if (region.dataset.fresh === "true") {
    delete region.dataset.fresh;
  } else {
    region.textContent = "";
    region.className = "status";
  }
}

/**
 * An alert inside a form or section (assertive: for errors that block what the person was doing).
 * @param {string} message
 * @returns {HTMLElement}
 */
export function alertBox(message) {
  return h("p", { class: "alert", role: "alert" }, message);
}

/**
 * Move focus to `element` (made focusable if it is not, e.g. a heading after a route change).
 * @param {HTMLElement | null} element
 */
export function focus(element) {
  if (!element) return;
  if (!element.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(element.tagName)) {
    element.setAttribute("tabindex", "-1");
  }
  element.focus();
}

/**
 * A button that shows it is busy (`aria-busy`, disabled) while `action` runs.
 * @param {HTMLButtonElement} button
 * @param {() => Promise<unknown>} action
 */
export async function busy(button, action) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/**
 * The language switch: a labelled select of `LANGUAGES`, each named in its own language.
 * @returns {HTMLElement}
 */
export function languageSwitch() {
  const id = uid("language");
  const select = h(
    "select",
    { id, name: "language", onchange: (event) => setLanguage(event.target.value) },
    LANGUAGES.map((code) =>
      h("option", { value: code, lang: code, selected: code === language() }, LANGUAGE_NAMES[code]),
    ),
  );
  return h("div", { class: "language-switch" }, h("label", { for: id }, t("app.language")), select);
}

/**
 * A definition list of label/value pairs (values as text).
 * @param {[string, Child][]} rows
 * @returns {HTMLElement}
 */
export function details(rows) {
  return h(
    "dl",
    { class: "details" },
    rows.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value ?? "—")]),
  );
}

/**
 * What to tell the person about a failure: a Cognito `AuthError`, an API `ApiError`, or the network.
 * Only codes are read, never the error's message (it could echo what was typed).
 * @param {unknown} error
 * @returns {string}
 */
export function errorMessage(error) {
  const found = /** @type {{name?: string, code?: string}} */ (error ?? {});
  if (found.name === "AuthError") {
    const key = `auth.error.${found.code}`;
    return has(key) ? t(key) : t("auth.error.other");
  }
  if (found.name === "ApiError") {
    const key = `api.error.${found.code}`;
    return has(key) ? t(key) : t("api.error.other", { code: String(found.code) });
  }
  return t("app.error.network");
}
