/**
 * Sign-up, confirmation and sign-in against a Cognito user pool, with amazon-cognito-identity-js.
 *
 * Sign-in is SRP (USER_SRP_AUTH: the password never leaves the browser). The staff pool requires
 * TOTP MFA: a first sign-in answers MFA_SETUP (`Session.mfaSetup` hands out the authenticator's
 * secret, `confirmMfaSetup` verifies the first code), later ones SOFTWARE_TOKEN_MFA (`answerTotp`).
 *
 * Tokens are kept in sessionStorage only (the library's storage, given here), never localStorage:
 * they go with the tab. Which token the API takes (custody.declared.catalog.TOKEN_USE): customers
 * present the ID token, staff the access token (its scopes are their groups) — `bearer()`.
 * @module shared/auth
 */
import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserAttribute,
  CognitoUserPool,
} from "amazon-cognito-identity-js";

/** Which token an audience presents to the API (catalog.TOKEN_USE). */
export const TOKEN_USE = Object.freeze({ customer: "id", staff: "access" });

/**
 * @typedef {{userPoolId: string, clientId: string}} PoolConfig
 * @typedef {{kind: "signedIn"} | {kind: "totp"} | {kind: "mfaSetup", secret: string}} SignInStep
 */

/** An error from Cognito, reduced to its code (never its message: it may echo the username). */
export class AuthError extends Error {
  /** @param {string} code Cognito's exception name, e.g. `NotAuthorizedException`. */
  constructor(code) {
    super(code);
    this.name = "AuthError";
    this.code = code;
  }
}

function authError(error) {
  return new AuthError(String(error?.code || error?.name || "UnknownError"));
}

/** One user pool as a page uses it. */
export class Session {
  /**
   * @param {PoolConfig} pool the pool's id and its app client
   * @param {{audience: "customer" | "staff", endpoint?: string, storage?: Storage}} options
   *   `endpoint`: the Cognito endpoint ("" or absent for AWS's); `storage`: where tokens live (sessionStorage)
   */
  constructor(pool, { audience, endpoint = "", storage = globalThis.sessionStorage }) {
    this.audience = audience;
    this.pool = new CognitoUserPool({
      UserPoolId: pool.userPoolId,
      ClientId: pool.clientId,
      endpoint: endpoint || undefined,
      Storage: storage,
    });
    /** @type {CognitoUser | null} the user between sign-in steps (MFA challenges) */
    this.pending = null;
    /** @type {import("amazon-cognito-identity-js").CognitoUserSession | null} */
    this.current = null;
  }

  /**
   * Create an account (self sign-up: the customer pool). Cognito mails a confirmation code.
   * @param {string} email the username
   * @param {string} password
   * @returns {Promise<void>}
   */
  signUp(email, password) {
    const attributes = [new CognitoUserAttribute({ Name: "email", Value: email })];
    return new Promise((resolve, reject) => {
      this.pool.signUp(email, password, attributes, [], (error) => (error ? reject(authError(error)) : resolve()));
    });
  }

  /**
   * Confirm a sign-up with the mailed code.
   * @param {string} email
   * @param {string} code
   * @returns {Promise<void>}
   */
  confirmSignUp(email, code) {
    const user = this.#user(email);
    return new Promise((resolve, reject) => {
      user.confirmRegistration(code, true, (error) => (error ? reject(authError(error)) : resolve()));
    });
  }

  /**
   * Mail a new confirmation code.
   * @param {string} email
   * @returns {Promise<void>}
   */
  resendCode(email) {
    const user = this.#user(email);
    return new Promise((resolve, reject) => {
      user.resendConfirmationCode((error) => (error ? reject(authError(error)) : resolve()));
    });
  }

  /**
   * Sign in by SRP. Resolves with the next step: signed in, a TOTP code wanted, or MFA to set up.
   * @param {string} email
   * @param {string} password
   * @returns {Promise<SignInStep>}
   */
  signIn(email, password) {
    const user = this.#user(email);
    this.pending = user;
    const details = new AuthenticationDetails({ Username: email, Password: password });
    return new Promise((resolve, reject) => {
      user.authenticateUser(details, this.#callbacks(user, resolve, reject));
    });
  }

  /**
   * Answer the SOFTWARE_TOKEN_MFA challenge with the authenticator's current code.
   * @param {string} code six digits
   * @returns {Promise<SignInStep>}
   */
  answerTotp(code) {
    const user = this.#require();
    return new Promise((resolve, reject) => {
      user.sendMFACode(code, this.#callbacks(user, resolve, reject), "SOFTWARE_TOKEN_MFA");
    });
  }

  /**
   * Finish MFA_SETUP: verify the first code of the authenticator given `secret`; signs in.
   * @param {string} code six digits
   * @returns {Promise<SignInStep>}
   */
  confirmMfaSetup(code) {
    const user = this.#require();
    return new Promise((resolve, reject) => {
      user.verifySoftwareToken(code, "authenticator", {
        onSuccess: (session) => {
          this.#signedIn(user, session);
          resolve({ kind: "signedIn" });
        },
        onFailure: (error) => reject(authError(error)),
      });
    });
  }

  /**
   * The stored session, refreshed when its tokens expired; null when nobody is signed in.
   * @returns {Promise<import("amazon-cognito-identity-js").CognitoUserSession | null>}
   */
  restore() {
    const user = this.pool.getCurrentUser();
    if (user === null) return Promise.resolve(null);
    return new Promise((resolve) => {
      user.getSession((error, session) => {
        if (error || !session?.isValid()) {
          resolve(null);
          return;
        }
        this.#signedIn(user, session);
        resolve(session);
      });
    });
  }

  /**
   * The token the API takes for this audience (`TOKEN_USE`), refreshed first when it expired.
   * @returns {Promise<string | null>}
   */
  async bearer() {
    const session = await this.restore();
    if (session === null) return null;
    const token = TOKEN_USE[this.audience] === "id" ? session.getIdToken() : session.getAccessToken();
    return token.getJwtToken();
  }

  /**
   * The signed-in user's claims (ID token), for display: e.g. `email`, `cognito:groups`.
   * @returns {Record<string, unknown>}
   */
  claims() {
    return this.current ? this.current.getIdToken().decodePayload() : {};
  }

  /** Forget the tokens in this tab (local sign-out). */
  signOut() {
    const user = this.pool.getCurrentUser();
    if (user !== null) user.signOut();
    this.current = null;
    this.pending = null;
  }

  #user(email) {
    return new CognitoUser({ Username: email, Pool: this.pool, Storage: this.pool.storage });
  }

  #require() {
    if (this.pending === null) throw new AuthError("NoSignInInProgress");
    return this.pending;
  }

  #signedIn(user, session) {
    this.current = session;
    this.pending = null;
    void user;
  }

  #callbacks(user, resolve, reject) {
    return {
      onSuccess: (session) => {
        this.#signedIn(user, session);
        resolve({ kind: "signedIn" });
      },
      onFailure: (error) => reject(authError(error)),
      totpRequired: () => resolve({ kind: "totp" }),
      mfaSetup: () => {
        user.associateSoftwareToken({
          associateSecretCode: (secret) => resolve({ kind: "mfaSetup", secret }),
          onFailure: (error) => reject(authError(error)),
        });
      },
      mfaRequired: () => reject(new AuthError("UnsupportedChallenge")),
      selectMFAType: () => {
        user.sendMFASelectionAnswer("SOFTWARE_TOKEN_MFA", this.#callbacks(user, resolve, reject));
      },
      newPasswordRequired: () => reject(new AuthError("NewPasswordRequired")),
      customChallenge: () => reject(new AuthError("UnsupportedChallenge")),
    };
  }
}

/**
 * The `otpauth://` URI an authenticator app takes for the TOTP secret (RFC 6238; Key Uri Format).
 * @param {string} issuer shown by the app
 * @param {string} account the user's address
 * @param {string} secret base32, as Cognito hands it out
 * @returns {string}
 */
export function totpUri(issuer, account, secret) {
  const label = encodeURIComponent(`${issuer}:${account}`);
  return `otpauth://totp/${label}?secret=${encodeURIComponent(secret)}&issuer=${encodeURIComponent(issuer)}`;
}
