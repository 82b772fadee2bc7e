/* docs.js: renders /openapi.json with Swagger UI, offline: no validator badge, no external requests. */
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    defaultModelsExpandDepth: 1,
    onComplete: function () { document.body.setAttribute("data-docs-ready", "1"); }
  });
});
