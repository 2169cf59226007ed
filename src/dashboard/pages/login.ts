// Sign-in: one API key, exchanged for an HttpOnly session cookie.
import { h, type Html } from "../html.ts";
import { LOGO } from "../layout.ts";

export function loginPage(options: { next: string; error?: string }): Html {
  return h`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · arrakis</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><form class="login" method="post" action="/login">
<h1>${LOGO} arrakis</h1>
<p class="muted">Sign in with one of this server's API keys (ARRAKIS_API_KEY, or the key file under ARRAKIS_HOME).</p>
${options.error ? h`<div class="alert bad" role="alert">${options.error}</div>` : ""}
<label for="key">API key</label>
<input id="key" type="password" name="key" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${options.next}">
<button class="btn" type="submit">Sign in</button>
</form></body></html>`;
}
