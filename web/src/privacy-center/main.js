/**
 * The privacy center: a customer's own data, consents and rights, in one page (hash routes).
 *
 * Signed out: `#/signin`, `#/signup`, `#/confirm`, and `#/erasure` (a withdrawal's progress, which
 * outlives the account). Signed in: the overview and one view per right (`VIEWS`). Every call goes to
 * the API on this origin with the customer's ID token (`shared/auth`); every text is a translation
 * key (`strings.js`), rendered again when the language changes.
 * @module privacy-center/main
 */
import { Api } from "../shared/api.js";
import { Session } from "../shared/auth.js";
import { loadConfig } from "../shared/config.js";
import * as i18n from "../shared/i18n.js";
import { Router } from "../shared/router.js";
import { ageStatus, announce, focus, h, languageSwitch, replace } from "../shared/ui.js";
import { STRINGS } from "./strings.js";
import * as account from "./views/account.js";
import * as changes from "./views/changes.js";
import * as consents from "./views/consents.js";
import * as documents from "./views/documents.js";
import * as erasure from "./views/erasure.js";
import * as exportsView from "./views/exports.js";
import * as overview from "./views/overview.js";
import * as profile from "./views/profile.js";
import * as report from "./views/report.js";
import * as rights from "./views/rights.js";
import * as seen from "./views/seen.js";

const { t } = i18n;

/**
 * @typedef {object} Context what every view is given
 * @property {Api} api the API as the signed-in customer
 * @property {Session} session the customer pool's session
 * @property {(route: string) => void} go navigate to a route
 * @property {() => Promise<any>} report the access report (`GET /v1/me`), fetched once per render
 */

/** Signed-in views, in the navigation's order: route -> module with `title` and `render(ctx, main)`. */
const VIEWS = {
  overview,
  consents,
  profile,
  documents,
  report,
  exports: exportsView,
  changes,
  rights,
  seen,
  withdraw: erasure.withdraw,
};
/** Views for everyone. */
const PUBLIC = { signin: account.signin, signup: account.signup, confirm: account.confirm, erasure: erasure.progress };

async function start() {
  i18n.extend(STRINGS);
  i18n.init();
  const app = /** @type {HTMLElement} */ (document.getElementById("app"));
  let config;
  try {
    config = await loadConfig();
  } catch {
    replace(app, h("main", { id: "main" }, h("h1", {}, t("center.title")), h("p", { role: "alert" }, t("app.error.config"))));
    return;
  }
  const session = new Session(config.customerPool, { audience: "customer", endpoint: config.cognitoEndpoint });
  const api = new Api(() => session.bearer(), config.apiBase);
  await session.restore();

  const main = h("main", { id: "main", tabindex: "-1" });
  const header = h("header", { class: "site" });
  const nav = h("nav", { class: "sections" });
  replace(app, header, nav, main);

  /** @type {Promise<any> | null} */
  let reportCache = null;
  const context = {
    api,
    session,
    go: (route) => router.go(route),
    report: () => {
      reportCache ??= api.get("/v1/me");
      return reportCache;
    },
  };

  const router = new Router(async (route) => {
    reportCache = null;
    const signedIn = session.current !== null;
    let view = signedIn ? VIEWS[route] ?? PUBLIC[route] : PUBLIC[route];
    if (!view) {
      router.go(signedIn ? "overview" : "signin");
      return;
    }
    if (signedIn && (route === "signin" || route === "signup" || route === "confirm")) {
      router.go("overview");
      return;
    }
    ageStatus();
    chrome(header, nav, session, router, route);
    replace(main, h("p", {}, t("app.loading")));
    document.title = `${t(view.title)} — ${t("center.title")}`;
    try {
      await view.render(context, main);
    } catch (error) {
      if (error?.name === "ApiError" && error.status === 401) {
        session.signOut();
        announce(t("api.error.unauthenticated"), "error");
        router.go("signin");
        return;
      }
      replace(main, h("h1", {}, t(view.title)), h("p", { role: "alert", class: "alert" }, t("app.error.network")));
    }
    focus(main.querySelector("h1"));
  }, session.current ? "overview" : "signin");

  i18n.onLanguageChange(() => {
    const skip = document.querySelector(".skip-link");
    if (skip) skip.textContent = t("app.skip");
    router.go(router.current);
  });
  const skip = document.querySelector(".skip-link");
  if (skip) skip.textContent = t("app.skip");
  router.start();
}

/**
 * The header (name, language, sign-out) and the sections' navigation of a signed-in customer.
 * @param {HTMLElement} header
 * @param {HTMLElement} nav
 * @param {Session} session
 * @param {Router} router
 * @param {string} route
 */
function chrome(header, nav, session, router, route) {
  const signedIn = session.current !== null;
  replace(
    header,
    h("a", { class: "brand", href: signedIn ? "#/overview" : "#/signin" }, t("center.title")),
    h(
      "div",
      { class: "tools" },
      languageSwitch(),
      signedIn
        ? h(
            "button",
            {
              type: "button",
              class: "secondary",
              onclick: () => {
                session.signOut();
                announce(t("center.signedOut"), "success");
                router.go("signin");
              },
            },
            t("app.signOut"),
          )
        : null,
    ),
  );
  nav.setAttribute("aria-label", t("center.sections"));
  nav.hidden = !signedIn;
  replace(
    nav,
    signedIn
      ? h(
          "ul",
          {},
          Object.entries(VIEWS).map(([name, view]) =>
            h("li", {}, h("a", { href: `#/${name}`, "aria-current": name === route ? "page" : null }, t(view.title))),
          ),
        )
      : null,
  );
}

void start();
