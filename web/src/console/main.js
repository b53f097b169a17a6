// console: built by web/build.mjs into build/web/assets/console.js
