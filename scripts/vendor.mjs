// Copies the pinned front-end assets from node_modules into core/static/vendor,
// so the portal serves them itself (no CDN). Run by `npm ci` (postinstall).
import { copyFileSync, mkdirSync } from "node:fs";

const files = {
  "htmx.org/dist/htmx.min.js": "htmx.min.js",
  "sortablejs/Sortable.min.js": "Sortable.min.js",
};
mkdirSync("core/static/vendor", { recursive: true });
for (const [source, target] of Object.entries(files)) {
  copyFileSync(`node_modules/${source}`, `core/static/vendor/${target}`);
}
