// Guichet's front-end glue, loaded with `defer` (no inline script anywhere, strict CSP).
"use strict";

// Close an open header dropdown when focus or a click moves elsewhere.
document.addEventListener("click", (event) => {
  for (const open of document.querySelectorAll("details.dropdown[open]")) {
    if (!open.contains(event.target)) open.removeAttribute("open");
  }
});
