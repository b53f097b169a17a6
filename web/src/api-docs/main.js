// api-docs: built by web/build.mjs into build/web/assets/api-docs.js
