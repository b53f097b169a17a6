/**
 * The staff and auditor console (`/console/`): one app of hash routes over the staff pool's session.
 *
 * Each section names the staff groups it is for (custody.declared.catalog's route groups); the nav shows
 * only the member's, but any section can be opened, and what the API refuses is said plainly on the page.
 * @module console/main
 */
import { loadConfig } from "../shared/config.js";
import { Session } from "../shared/auth.js";
import { init, onLanguageChange, t } from "../shared/i18n.js";
import { announce, focus, h, languageSwitch, replace } from "../shared/ui.js";
import { disposalsPage, lookupForm, reviewPage } from "./audit.js";
import { makeConsole, roleName } from "./context.js";
import { loadFailure } from "./forms.js";
import { processorsPage, requestsPage } from "./registers.js";
import { signIn } from "./signin.js";
import { approvalsPage, changesPage, grantsPage, holdsPage } from "./staff.js";
import { addStrings } from "./strings.js";

/**
 * @typedef {object} Section
 * @property {string} path the hash route, e.g. `/grants`
 * @property {string} title a string key
 * @property {string[]} roles who it is for
 * @property {string} allowed the refusal's "who may" key
 * @property {(context: import("./context.js").Console, body: HTMLElement, argument: string) => Promise<void> | HTMLElement[]} render
 */

/** @type {Section[]} */
export const SECTIONS = [
  { path: "/grants", title: "grants.title", roles: ["support", "privacy_officer"], allowed: "support", render: grantsPage },
  { path: "/approvals", title: "approvals.title", roles: ["privacy_officer"], allowed: "privacy_officer", render: approvalsPage },
  { path: "/changes", title: "changes.title", roles: ["privacy_officer"], allowed: "privacy_officer", render: changesPage },
  { path: "/requests", title: "requests.title", roles: ["privacy_officer", "auditor"], allowed: "auditor", render: requestsPage },
  { path: "/holds", title: "holds.title", roles: ["privacy_officer"], allowed: "privacy_officer", render: holdsPage },
  { path: "/processors", title: "processors.title", roles: ["privacy_officer", "auditor"], allowed: "auditor", render: processorsPage },
  { path: "/disposals", title: "disposals.title", roles: ["auditor", "privacy_officer"], allowed: "auditor", render: disposalsPage },
  { path: "/audit", title: "review.open", roles: ["auditor", "privacy_officer"], allowed: "auditor", render: auditRoute },
];

/** `/audit` alone: the lookup form; `/audit/<id>`: that request's review. */
async function auditRoute(context, body, argument) {
  if (!argument) {
    replace(body, h("h1", {}, t("review.open")), h("section", { class: "card" }, lookupForm(context)));
    return;
  }
  await reviewPage(context, body, argument);
}

/** Whether the hash is a route (`#/...`), not an in-page anchor such as the skip link's `#main`. */
function isRoute() {
  return window.location.hash === "" || window.location.hash.startsWith("#/");
}

let lastRoute = "/";

/** The route in the hash: its section and the rest of the path (`#/audit/<id>`). */
function route() {
  if (isRoute()) lastRoute = window.location.hash.replace(/^#/, "") || "/";
  const hash = lastRoute;
  const section = SECTIONS.find((item) => hash === item.path || hash.startsWith(`${item.path}/`));
  const argument = section ? decodeURIComponent(hash.slice(section.path.length + 1)) : "";
  return { section, argument };
}

async function start() {
  addStrings();
  init();
  const app = /** @type {HTMLElement} */ (document.getElementById("app"));
  let config;
  try {
    config = await loadConfig();
  } catch {
    replace(app, h("main", { id: "main" }, h("p", { class: "alert", role: "alert" }, t("app.error.config"))));
    return;
  }
  const session = new Session(config.staffPool, { audience: "staff", endpoint: config.cognitoEndpoint });
  const context = makeConsole(session, config.apiBase, () => void render());

  async function render() {
    document.title = `${t("console.title")} — CRM Custody`;
    const main = h("main", { id: "main", class: "wide" });
    const signedIn = (await session.restore()) !== null;
    const roles = signedIn ? context.roles() : [];
    const { section, argument } = route();
    const header = h(
      "header",
      { class: "site" },
      h("a", { class: "brand", href: "#/" }, t("console.brand")),
      h(
        "div",
        { class: "tools" },
        languageSwitch(),
        signedIn
          ? h("button", { type: "button", class: "secondary", onclick: () => { session.signOut(); void render(); } }, t("app.signOut"))
          : null,
      ),
    );
    const nav = signedIn
      ? h(
          "nav",
          { class: "sections", "aria-label": t("console.nav") },
          h(
            "ul",
            {},
            h("li", {}, h("a", { href: "#/", "aria-current": section ? null : "page" }, t("console.home"))),
            SECTIONS.filter((item) => item.roles.some((role) => roles.includes(role))).map((item) =>
              h("li", {}, h("a", { href: `#${item.path}`, "aria-current": item === section ? "page" : null }, t(item.title))),
            ),
          ),
        )
      : null;
    replace(app, header, nav, main);
    if (!signedIn) {
      signIn(main, session, () => void render());
      return;
    }
    if (!section) {
      replace(
        main,
        h("h1", {}, t("console.title")),
        h("p", { class: "lead" }, roles.length ? t("console.signedInAs", { roles: roles.map(roleName).join(", ") }) : t("console.noRole")),
        h("p", {}, t("console.home.lead")),
        h(
          "ul",
          {},
          SECTIONS.map((item) =>
            h("li", {}, h("a", { href: `#${item.path}` }, t(item.title)), ` — ${item.roles.map(roleName).join(", ")}`),
          ),
        ),
      );
      focus(/** @type {HTMLElement} */ (main.querySelector("h1")));
      return;
    }
    replace(main, h("p", {}, t("app.loading")));
    try {
      const rendered = await section.render(context, main, argument);
      if (Array.isArray(rendered)) replace(main, rendered);
    } catch (error) {
      replace(main, h("h1", {}, t(section.title)), await loadFailure(context, error, section.allowed));
      announce(t(section.title), "error");
    }
    focus(/** @type {HTMLElement} */ (main.querySelector("h1")));
  }

  window.addEventListener("hashchange", () => {
    if (isRoute()) void render();
  });
  onLanguageChange(() => void render());
  await render();
}

void start();
