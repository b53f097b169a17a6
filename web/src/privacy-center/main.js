// privacy-center: built by web/build.mjs into build/web/assets/privacy-center.js
