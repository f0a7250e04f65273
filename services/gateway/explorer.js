// Swagger UI on the gateway's own OpenAPI document; see services/gateway/explorer.py.
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  tryItOutEnabled: true,
  persistAuthorization: true,   // the bearer token survives a reload (kept in this browser's localStorage)
  displayRequestDuration: true,
  filter: true,
  validatorUrl: null,           // never send the document to validator.swagger.io
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: "StandaloneLayout",
});
