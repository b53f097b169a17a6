/**
 * Sign up, confirm the address, sign in: the customer pool through `shared/auth` (SRP).
 *
 * Between sign-up and confirmation the address and password stay in this module's memory only (so
 * the customer is signed in right after confirming); they never reach a URL or storage.
 * @module privacy-center/views/account
 */
import { AuthError } from "../../shared/auth.js";
import { t } from "../../shared/i18n.js";
import { alertBox, announce, errorMessage, field, h } from "../../shared/ui.js";
import { page } from "./common.js";

/** @type {{email: string, password: string}} */
const pending = { email: "", password: "" };

function credentials(passwordAutocomplete) {
  const email = field({ name: "email", label: t("auth.email"), type: "email", required: true, autocomplete: "username", value: pending.email });
  const password = field({
    name: "password",
    label: t("auth.password"),
    type: "password",
    required: true,
    autocomplete: passwordAutocomplete,
    hint: passwordAutocomplete === "new-password" ? t("center.signup.passwordHint") : undefined,
  });
  return { email, password };
}

async function authenticate(form, action) {
  form.querySelector(":scope > .alert")?.remove();
  const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    await action();
  } catch (error) {
    const box = alertBox(errorMessage(error));
    box.tabIndex = -1;
    form.prepend(box);
    box.focus();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

export const signin = {
  title: "center.signin.title",
  /** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
  async render(ctx, main) {
    const { email, password } = credentials("current-password");
    const form = h(
      "form",
      {
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          void authenticate(form, async () => {
            pending.email = email.input.value.trim();
            try {
              const step = await ctx.session.signIn(pending.email, password.input.value);
              // The customer pool's MFA is optional and this page enrols nobody: a challenge here is unexpected.
              if (step.kind !== "signedIn") throw new AuthError("UnsupportedChallenge");
            } catch (error) {
              if (error?.code === "UserNotConfirmedException") {
                pending.password = password.input.value;
                ctx.go("confirm");
                return;
              }
              throw error;
            }
            pending.email = "";
            announce(t("center.signin.done"), "success");
            ctx.go("overview");
          });
        },
      },
      email.root,
      password.root,
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("center.signin.submit"))),
    );
    page(
      main,
      "center.signin.title",
      "center.signin.lead",
      form,
      h("p", {}, t("center.signin.new"), " ", h("a", { href: "#/signup" }, t("center.signup.title"))),
    );
  },
};

export const signup = {
  title: "center.signup.title",
  /** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
  async render(ctx, main) {
    const { email, password } = credentials("new-password");
    const form = h(
      "form",
      {
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          void authenticate(form, async () => {
            pending.email = email.input.value.trim();
            pending.password = password.input.value;
            await ctx.session.signUp(pending.email, pending.password);
            announce(t("center.confirm.sent"), "success");
            ctx.go("confirm");
          });
        },
      },
      email.root,
      password.root,
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("center.signup.submit"))),
    );
    page(
      main,
      "center.signup.title",
      "center.signup.lead",
      form,
      h("p", {}, t("center.signup.have"), " ", h("a", { href: "#/signin" }, t("center.signin.title"))),
    );
  },
};

export const confirm = {
  title: "center.confirm.title",
  /** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
  async render(ctx, main) {
    const email = field({ name: "email", label: t("auth.email"), type: "email", required: true, autocomplete: "username", value: pending.email });
    const code = field({
      name: "code",
      label: t("center.confirm.code"),
      required: true,
      autocomplete: "one-time-code",
      inputmode: "numeric",
      hint: t("center.confirm.hint"),
    });
    const form = h(
      "form",
      {
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          void authenticate(form, async () => {
            const address = email.input.value.trim();
            await ctx.session.confirmSignUp(address, code.input.value.trim());
            if (pending.password && address === pending.email) {
              await ctx.session.signIn(address, pending.password);
              pending.email = "";
              pending.password = "";
              announce(t("center.confirm.done"), "success");
              ctx.go("consents");
            } else {
              announce(t("center.confirm.signIn"), "success");
              ctx.go("signin");
            }
          });
        },
      },
      email.root,
      code.root,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit" }, t("center.confirm.submit")),
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: () =>
              void authenticate(form, async () => {
                await ctx.session.resendCode(email.input.value.trim());
                announce(t("center.confirm.sent"), "success");
              }),
          },
          t("center.confirm.resend"),
        ),
      ),
    );
    page(main, "center.confirm.title", "center.confirm.lead", form);
  },
};

