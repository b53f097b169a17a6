/**
 * Calls to the custody API on the pages' own origin (`/v1/...`, no CORS), with the caller's token.
 *
 * Every refusal of the API — its functions' and API Gateway's own — has one shape,
 * `{error, message, details}` (docs/openapi.json `Error`); a request validation failure names the
 * fields in `details.fields` (`[{field, reason}]`).
 * `ApiError.fieldMessages()` turns it into messages by field path for the forms to show inline.
 * @module shared/api
 */

/** A refusal of the API: HTTP status, its error code, its message and per-field problems. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code the API's `error` (e.g. `invalid_input`, `unauthenticated`)
   * @param {string} message the API's message (never personal data: the API does not echo values)
   * @param {Record<string, unknown>} details
   */
  constructor(status, code, message, details) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /**
   * Problems by field path (`contact.phone`, `identity.birth_date`, ...), when the API named fields.
   * @returns {Record<string, string>}
   */
  fieldMessages() {
    return fieldMessages(this.details);
  }
}

/**
 * Field problems out of an error's `details`: the API lists them as `{"fields": [{"field", "reason"}]}`
 * (`custody.declared.errors.field_errors`), a field as its dotted path (`contact.phone`) — names and
 * reasons only, never the value sent.
 * @param {unknown} details
 * @returns {Record<string, string>}
 */
export function fieldMessages(details) {
  const found = {};
  const fields = /** @type {Record<string, unknown>} */ (details ?? {}).fields;
  if (Array.isArray(fields)) {
    for (const item of fields) {
      if (item && typeof item === "object" && typeof item.field === "string") {
        // Pydantic prefixes a validator's own message with "Value error, ": the reason is what follows.
        found[item.field] = String(item.reason ?? "invalid").replace(/^Value error, /, "");
      }
    }
  }
  return found;
}

/**
 * @typedef {{method?: string, body?: unknown, headers?: Record<string, string>, raw?: boolean}} CallOptions
 */

/** The API as one signed-in caller sees it. */
export class Api {
  /**
   * @param {() => Promise<string | null>} bearer the token to send (null: none)
   * @param {string} [base] the API's base URL ("" = this origin)
   */
  constructor(bearer, base = "") {
    this.bearer = bearer;
    this.base = base;
  }

  /**
   * Call the API. Resolves with the parsed JSON (or the Response itself with `raw`); rejects with `ApiError`.
   * @param {string} path e.g. `/v1/me`
   * @param {CallOptions} [options]
   * @returns {Promise<any>}
   */
  async call(path, { method = "GET", body, headers = {}, raw = false } = {}) {
    const token = await this.bearer();
    const sent = { Accept: "application/json", ...headers };
    if (token) sent.Authorization = `Bearer ${token}`;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    const response = await fetch(this.base + path, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    if (!response.ok) throw await asError(response);
    if (raw) return response;
    if (response.status === 204) return null;
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  /** @param {string} path */
  get(path) {
    return this.call(path);
  }

  /** @param {string} path @param {unknown} [body] @param {Record<string, string>} [headers] */
  post(path, body, headers) {
    return this.call(path, { method: "POST", body, headers });
  }

  /** @param {string} path @param {unknown} body @param {Record<string, string>} [headers] */
  patch(path, body, headers) {
    return this.call(path, { method: "PATCH", body, headers });
  }

  /** @param {string} path @param {unknown} body @param {Record<string, string>} [headers] */
  put(path, body, headers) {
    return this.call(path, { method: "PUT", body, headers });
  }

  /** @param {string} path */
  delete(path) {
    return this.call(path, { method: "DELETE" });
  }
}

/**
 * The API's error shape out of a failed response (a body that is not one becomes `http_<status>`).
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
export async function asError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (body && typeof body === "object" && typeof body.error === "string") {
    return new ApiError(response.status, body.error, String(body.message ?? ""), body.details ?? {});
  }
  return new ApiError(response.status, `http_${response.status}`, "", {});
}

/** A fresh Idempotency-Key for one user action (a retry of the same action reuses it). */
export function idempotencyKey() {
  return crypto.randomUUID();
}
