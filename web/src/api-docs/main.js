// api-docs: the API reference at /docs/, built by web/build.mjs into build/web/assets/api-docs.js.
//
// Swagger UI 5 (swagger-ui-dist, which renders OpenAPI 3.1) is loaded by a classic script tag before
// this module and leaves its `SwaggerUIBundle` global; everything it needs is on this origin (no CDN).
// The reference documents the API and sends nothing: "Try it out" is off (no submit methods), so no
// token is ever pasted into the page, and the public validator badge is off (`validatorUrl: null`),
// which would otherwise send the document to validator.swagger.io.

export const OPENAPI_URL = "/docs/openapi.json";

/**
 * Accessibility and scope fixes as a Swagger UI plugin: an operation's summary is a button, so the
 * deep link Swagger UI nests inside it is rendered as plain text (a link inside a button is a nested
 * control, WCAG 4.1.2; the address still follows the open operation through `deepLinking`). Without
 * "Try it out" the server selector and the Authorize dialog have nothing to act on, so they are not
 * rendered (the security each operation needs is still shown on it).
 */
export function referencePlugin() {
  const nothing = () => () => null;
  return {
    wrapComponents: {
      DeepLink: (Original, system) => (props) => system.React.createElement(Original, { ...props, enabled: false }),
      ServersContainer: nothing,
      AuthorizeBtnContainer: nothing,
    },
  };
}

/** The Swagger UI options of the reference. */
export function options(bundle, domNode) {
  return {
    url: OPENAPI_URL,
    domNode,
    deepLinking: true,
    presets: [bundle.presets.apis],
    plugins: [referencePlugin],
    layout: "BaseLayout",
    validatorUrl: null,
    supportedSubmitMethods: [],
    tryItOutEnabled: false,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayOperationId: false,
    filter: true,
    syntaxHighlight: { activated: false },
  };
}

const bundle = globalThis.SwaggerUIBundle;
const root = document.getElementById("swagger-ui");
if (typeof bundle !== "function") {
  root.textContent = "The API reference's renderer (/docs/swagger-ui-bundle.js) did not load.";
} else {
  globalThis.ui = bundle(options(bundle, root));
}
