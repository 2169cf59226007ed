// The page frame: navigation, the search box, the live indicator, the one stylesheet and script.
import { h, type Html, type Part } from "./html.ts";

export type Section = "overview" | "events" | "failed" | "sessions" | "alerts";

const NAV: [Section, string, string][] = [
  ["overview", "/", "Overview"],
  ["events", "/events", "Audit log"],
  ["failed", "/failed", "Failed"],
  ["sessions", "/sessions", "Sessions"],
  ["alerts", "/alerts", "Alerts"],
];

export const LOGO =
  h`<svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="#b5561c"/><path d="M3 15c3-2 6-2 9 0s6 2 9 0v3.5A11 11 0 0 1 3 18z" fill="#f2c58f"/><path d="M3.5 11.5c3-2 6-2 9 0s6 2 8.5.5" stroke="#f2c58f" stroke-width="1.6" fill="none"/></svg>`;

export function page(title: string, section: Section | null, body: Part): Html {
  return h`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · arrakis</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">${LOGO} arrakis</a>
  <nav>${
    NAV.map(([id, href, label]) =>
      h`<a href="${href}"${
        id === section ? h` class="active" aria-current="page"` : ""
      }>${label}</a>`
    )
  }</nav>
  <form class="search" method="get" action="/search" role="search">
    <input type="search" name="q" placeholder="Search sessions" aria-label="Search sessions" maxlength="500">
  </form>
  <div class="right">
    <span id="live-dot" class="live" title="live updates">connecting</span>
    <form method="post" action="/logout"><button type="submit">Sign out</button></form>
  </div>
</header>
<main>
${body}
</main>
</body>
</html>`;
}

export function statusBadge(status: string | null | undefined): Html {
  const value = status ?? "—";
  return h`<span class="badge s-${value.replace(/[^A-Za-z]/g, "")}">${value}</span>`;
}
