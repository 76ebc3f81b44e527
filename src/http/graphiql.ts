// GraphiQL that needs no internet: yoga's own page loads its scripts, styles
// and Monaco workers from unpkg; @graphql-yoga/render-graphiql carries them
// in the package and inlines them into the page (workers as blob: URLs), so
// the browser asks this server for the page and the API only.
//
// The page gets a Content-Security-Policy of its own (the UI's strict one
// applies to /app only): the inline script by its hash, no script from
// anywhere else, no eval; styles inline (Monaco writes style elements at
// run time); workers from blob:; images and fonts from data:; requests to
// this server only.
import { createHash } from "node:crypto";
import type { GraphiQLOptions, Plugin } from "graphql-yoga";

const pages = new Map<string, { html: string; policy: string }>();

// The package holds GraphiQL and Monaco as strings (about 9 MB of source,
// some 45 MB of memory once loaded): loaded at the first request for the
// page, not at start.
let renderer: Promise<(options: GraphiQLOptions) => string> | undefined;
const loadRenderer = () => (renderer ??= import("@graphql-yoga/render-graphiql").then((module) => module.renderGraphiQL));

function policyFor(html: string): string {
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    ([, body]) => `'sha256-${createHash("sha256").update(body).digest("base64")}'`,
  );
  return [
    "default-src 'none'",
    `script-src ${scripts.join(" ")}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src blob:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

async function page(options: GraphiQLOptions): Promise<{ html: string; policy: string }> {
  const key = JSON.stringify(options ?? {});
  let rendered = pages.get(key);
  if (!rendered) {
    // About 9 MB (GraphiQL, Monaco and its workers): rendered and hashed once per set of options.
    const html = (await loadRenderer())(options);
    rendered = { html, policy: policyFor(html) };
    pages.set(key, rendered);
  }
  return rendered;
}

/** yoga's `renderGraphiQL` option: the page with everything inline. */
export async function renderGraphiQL(options: GraphiQLOptions): Promise<string> {
  return (await page(options)).html;
}

/** Adds the page's Content-Security-Policy to GraphiQL's response (yoga renders it with a bare content type). */
export function useGraphiQLPolicy(graphqlEndpoint: string, options: GraphiQLOptions): Plugin {
  return {
    async onResponse({ request, response }) {
      if (request.method !== "GET" || new URL(request.url, "http://saldo").pathname !== graphqlEndpoint) return;
      if (!response.headers.get("content-type")?.startsWith("text/html")) return;
      // Rendered already: the response is that page.
      response.headers.set("content-security-policy", (await page(options)).policy);
      response.headers.set("x-content-type-options", "nosniff");
      response.headers.set("referrer-policy", "no-referrer");
      response.headers.set("cache-control", "no-cache");
    },
  };
}
