/**
 * Staff sign-in: SRP with the staff pool, then the second factor — a TOTP code, or on the first
 * sign-in the authenticator's enrolment (MFA_SETUP: the secret shown, the first code verified).
 * Nothing typed is kept or logged; errors are told by Cognito's code only (`shared/ui.errorMessage`).
 * @module console/signin
 */
import { totpUri } from "../shared/auth.js";
import { t } from "../shared/i18n.js";
import { alertBox, busy, details, field, focus, h, replace } from "../shared/ui.js";
import { errorMessage } from "../shared/ui.js";

/**
 * Render the sign-in into `main`; `done()` once signed in.
 * @param {HTMLElement} main
 * @param {import("../shared/auth.js").Session} session
 * @param {() => void} done
 */
export function signIn(main, session, done) {
  const email = field({ name: "email", label: t("auth.email"), type: "email", required: true, autocomplete: "username" });
  const password = field({
    name: "password",
    label: t("auth.password"),
    type: "password",
    required: true,
    autocomplete: "current-password",
  });
  const outcome = h("div");
  const button = /** @type {HTMLButtonElement} */ (h("button", { type: "submit" }, t("signin.submit")));
  const form = h("form", { "aria-label": t("signin.title") }, email.root, password.root, h("div", { class: "actions" }, button), outcome);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    replace(outcome);
    void busy(button, async () => {
      try {
        const step = await session.signIn(email.input.value.trim(), password.input.value);
        next(main, session, step, email.input.value.trim(), done);
      } catch (error) {
        replace(outcome, alertBox(errorMessage(error)));
      }
    });
  });
  replace(main, h("h1", {}, t("signin.title")), h("p", { class: "lead" }, t("signin.lead")), form);
  focus(/** @type {HTMLElement} */ (main.querySelector("h1")));
}

/**
 * The step after a password: signed in, a code wanted, or an authenticator to enrol.
 * @param {HTMLElement} main
 * @param {import("../shared/auth.js").Session} session
 * @param {import("../shared/auth.js").SignInStep} step
 * @param {string} account
 * @param {() => void} done
 */
function next(main, session, step, account, done) {
  if (step.kind === "signedIn") {
    done();
    return;
  }
  const code = field({
    name: "code",
    label: t("signin.totp"),
    hint: t("signin.totp.hint"),
    required: true,
    autocomplete: "one-time-code",
    inputmode: "numeric",
    attributes: { pattern: "[0-9]{6}", maxlength: 6 },
  });
  const outcome = h("div");
  const button = /** @type {HTMLButtonElement} */ (h("button", { type: "submit" }, t("signin.verify")));
  const form = h("form", { "aria-label": t("signin.totp") }, code.root, h("div", { class: "actions" }, button), outcome);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    replace(outcome);
    void busy(button, async () => {
      try {
        const answer = code.input.value.trim();
        const after = step.kind === "mfaSetup" ? await session.confirmMfaSetup(answer) : await session.answerTotp(answer);
        next(main, session, after, account, done);
      } catch (error) {
        replace(outcome, alertBox(errorMessage(error)));
      }
    });
  });
  const enrolment =
    step.kind === "mfaSetup"
      ? [
          h("h2", {}, t("signin.setup.title")),
          h("p", {}, t("signin.setup.lead")),
          details([
            [t("signin.setup.secret"), h("span", { class: "secret", "data-totp-secret": "" }, step.secret)],
            [t("signin.setup.uri"), h("code", {}, totpUri("CRM Custody", account, step.secret))],
          ]),
        ]
      : [];
  replace(main, h("h1", {}, t("signin.title")), enrolment, form);
  focus(code.input);
}
