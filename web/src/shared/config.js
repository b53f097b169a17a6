/**
 * The deploy-time settings every page reads first: `/config.json` (camelCase).
 *
 * Deployed, CloudFront serves it from S3 (written at deploy time); locally the gateway generates
 * it from the running stack (`devstack.gateway`). Shape:
 * `{region, apiBase, cognitoEndpoint, customerPool: {userPoolId, clientId}, staffPool: {userPoolId, clientId}}`.
 * `apiBase` is "" (the API shares the pages' origin); `cognitoEndpoint` is "" for AWS's own endpoint.
 * @module shared/config
 */

/**
 * @typedef {{userPoolId: string, clientId: string}} PoolConfig
 * @typedef {{region: string, apiBase: string, cognitoEndpoint: string,
 *            customerPool: PoolConfig, staffPool: PoolConfig}} WebConfig
 */

export const CONFIG_PATH = "/config.json";

/** @type {Promise<WebConfig> | null} */
let loaded = null;

/**
 * The settings, fetched once per page load (no cache: a redeploy changes them).
 * @returns {Promise<WebConfig>}
 */
export function loadConfig() {
  if (loaded === null) {
    loaded = fetch(CONFIG_PATH, { cache: "no-store", credentials: "same-origin" }).then(async (response) => {
      if (!response.ok) throw new Error(`config: HTTP ${response.status}`);
      return validate(await response.json());
    });
    loaded.catch(() => {
      loaded = null; // let a later call try again
    });
  }
  return loaded;
}

/**
 * Check the shape, so a broken deploy fails loudly at start rather than at sign-in.
 * @param {unknown} value
 * @returns {WebConfig}
 */
export function validate(value) {
  const config = /** @type {Record<string, any>} */ (value ?? {});
  const text = (field) => {
    if (typeof field !== "string") throw new Error("config: malformed");
    return field;
  };
  const pool = (found) => ({ userPoolId: text(found?.userPoolId), clientId: text(found?.clientId) });
  return {
    region: text(config.region),
    apiBase: text(config.apiBase ?? ""),
    cognitoEndpoint: text(config.cognitoEndpoint ?? ""),
    customerPool: pool(config.customerPool),
    staffPool: pool(config.staffPool),
  };
}
