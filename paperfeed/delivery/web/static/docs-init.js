// Starts Swagger UI on /docs (a file, not an inline script, so the page's CSP allows it).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
