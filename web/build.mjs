// Builds the web front end into build/web (served locally by the gateway, deployed to S3 behind CloudFront).
//
//   web/src/<app>/main.js   -> build/web/assets/<app>.js   (one esbuild bundle per app, ES2020, minified)
//   web/pages/**            -> build/web/**                (HTML and CSS, copied as they are)
//   swagger-ui-dist         -> build/web/docs/             (the API reference's renderer, bundled, no CDN)
//   docs/openapi.json       -> build/web/docs/openapi.json
//
// No inline scripts or styles anywhere: the pages are served under a strict Content-Security-Policy.
// Usage: node web/build.mjs [--out build/web]
import { build } from "esbuild";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outFlag = process.argv.indexOf("--out");
const out = resolve(root, outFlag > 0 ? process.argv[outFlag + 1] : "build/web");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

cpSync(join(root, "web", "pages"), out, { recursive: true });

const apps = readdirSync(join(root, "web", "src"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(root, "web", "src", entry.name, "main.js")))
  .map((entry) => entry.name);
await build({
  entryPoints: Object.fromEntries(apps.map((app) => [app, join(root, "web", "src", app, "main.js")])),
  outdir: join(out, "assets"),
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
  // amazon-cognito-identity-js reaches for Node's globals through its dependencies.
  define: { global: "globalThis" },
});

const swagger = join(root, "node_modules", "swagger-ui-dist");
mkdirSync(join(out, "docs"), { recursive: true });
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"]) {
  cpSync(join(swagger, file), join(out, "docs", file));
}
cpSync(join(root, "docs", "openapi.json"), join(out, "docs", "openapi.json"));

writeFileSync(join(out, ".built"), `${apps.join(" ")}\n`);
console.log(`web: ${apps.length} apps (${apps.join(", ")}) -> ${out}`);
