/**
 * What every console page shares: the staff session, the API as that member of staff, their roles,
 * and how a refusal is told (by role, never by echoing what was typed).
 * @module console/context
 */
import { Api } from "../shared/api.js";
import { t } from "../shared/i18n.js";
import { errorMessage } from "../shared/ui.js";

/** The staff groups (custody.declared.catalog.STAFF_GROUPS). */
export const ROLES = Object.freeze(["support", "privacy_officer", "auditor"]);

/**
 * @typedef {object} Console
 * @property {import("../shared/auth.js").Session} session the staff pool's session
 * @property {Api} api the API with the staff access token
 * @property {() => string[]} roles the signed-in member's staff groups
 * @property {() => void} signedOut re-render after the session ended
 */

/**
 * The staff groups of the signed-in member: the access token's scopes (`<server>/<group>`, what the API
 * checks) and the ID token's `cognito:groups`.
 * @param {import("../shared/auth.js").Session} session
 * @returns {string[]}
 */
export function rolesOf(session) {
  const found = new Set();
  const current = session.current;
  if (!current) return [];
  const scope = String(current.getAccessToken().decodePayload().scope ?? "");
  for (const item of scope.split(/\s+/)) {
    const group = item.split("/").pop();
    if (ROLES.includes(group)) found.add(group);
  }
  const groups = current.getIdToken().decodePayload()["cognito:groups"];
  for (const group of Array.isArray(groups) ? groups : []) if (ROLES.includes(group)) found.add(group);
  return ROLES.filter((role) => found.has(role));
}

/**
 * The console's context for a signed-in session.
 * @param {import("../shared/auth.js").Session} session
 * @param {string} apiBase
 * @param {() => void} signedOut
 * @returns {Console}
 */
export function makeConsole(session, apiBase, signedOut) {
  return {
    session,
    api: new Api(() => session.bearer(), apiBase),
    roles: () => rolesOf(session),
    signedOut,
  };
}

/** A role's name in the current language. @param {string} role */
export function roleName(role) {
  return t(`console.role.${role}`);
}

/**
 * What to tell the member about a failure. The API refuses a role twice — API Gateway by the route's
 * scopes (401) and the function by its groups (403) — so a 401 or 403 while the session is still valid
 * is a refusal of the role, said plainly with who may do it (`allowed`: "privacy_officer", "support"
 * or "auditor", the `console.refused.who.*` keys).
 * @param {Console} context
 * @param {unknown} error
 * @param {string} allowed
 * @returns {Promise<{message: string, refused: boolean}>}
 */
export async function explain(context, error, allowed) {
  const found = /** @type {{name?: string, status?: number}} */ (error ?? {});
  if (found.name === "ApiError" && (found.status === 401 || found.status === 403)) {
    const session = await context.session.restore();
    if (session === null) {
      context.signedOut();
      return { message: t("console.sessionEnded"), refused: false };
    }
    const roles = context.roles().map(roleName).join(", ") || "—";
    return { message: t("console.refused", { roles, who: t(`console.refused.who.${allowed}`) }), refused: true };
  }
  return { message: errorMessage(error), refused: false };
}
