// openapi.json in Swagger UI, its requests sent with a demo customer's Cognito ID token.
"use strict";

const ui = SwaggerUIBundle({
  url: "/data/openapi.json",
  dom_id: "#swagger-ui",
  docExpansion: "list",
  deepLinking: true,
  persistAuthorization: false,
  onComplete: () => signIn(document.getElementById("customer").value),
});

async function signIn(customer) {
  const response = await fetch(`/data/token/${encodeURIComponent(customer)}`, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) { document.getElementById("signed-in").textContent = body.message; return; }
  ui.preauthorizeApiKey("cognito", body.idToken);
  document.getElementById("signed-in").textContent = `requests carry ${customer}'s token`;
}

document.getElementById("customer").addEventListener("change", (event) => signIn(event.target.value));
