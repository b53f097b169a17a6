/**
 * A hash router: `#/name` picks a view. Hashes that do not start with `#/` (a skip link's `#main`)
 * are in-page anchors and leave the route alone. Nothing personal ever goes in a route: views keep
 * ids and addresses in memory or sessionStorage.
 * @module shared/router
 */

/**
 * The route of a location hash, or null for an in-page anchor.
 * @param {string} hash e.g. `#/consents`
 * @returns {string | null}
 */
export function routeOf(hash) {
  if (!hash.startsWith("#/")) return null;
  return hash.slice(2).split(/[/?]/, 1)[0] || "";
}

/** Calls `render(route)` for the current route now and on every route change. */
export class Router {
  /**
   * @param {(route: string) => void | Promise<void>} render
   * @param {string} fallback the route of an empty hash
   */
  constructor(render, fallback) {
    this.render = render;
    this.fallback = fallback;
    this.current = fallback;
    globalThis.addEventListener("hashchange", () => this.#changed());
  }

  /** Render the current route. */
  start() {
    this.#changed(true);
  }

  /** Go to `route` (renders through `hashchange`; re-renders when it is already there). @param {string} route */
  go(route) {
    if (globalThis.location.hash === `#/${route}`) {
      this.current = route;
      void this.render(route);
    } else {
      globalThis.location.hash = `#/${route}`;
    }
  }

  #changed(first = false) {
    const route = routeOf(globalThis.location.hash);
    if (route === null && !first) return; // an in-page anchor
    this.current = route || this.fallback;
    void this.render(this.current);
  }
}
