// The billing UI (web/, built into web/dist by `npm run build:web`) at /app:
// files with their content types, hashed assets cached for good and
// index.html revalidated, every other path under /app answered with
// index.html (the app routes in the browser), and a Content-Security-Policy
// that lets the page load nothing but this server's own files and talk to
// nothing but this server. `/` redirects to the UI.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Plugin } from "graphql-yoga";
import { lookup } from "mrmime";

export const APP_PATH = "/app";
export const DEFAULT_WEB_ROOT = path.resolve(import.meta.dirname, "../../web/dist");

/** No inline script or style, nothing from another origin; requests only to this server. */
export const APP_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": APP_CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** Vite puts every file it fingerprints under assets/ (web/vite.config.ts). */
const IMMUTABLE = "public, max-age=31536000, immutable";
const REVALIDATE = "no-cache";
const TEXT = /^(text\/|application\/(javascript|json|manifest\+json)|image\/svg\+xml)/;

export interface WebAppOptions {
  /** The built UI; default web/dist of this project. */
  root?: string;
}

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

async function readStatic(root: string, relative: string): Promise<StaticFile | null> {
  const file = path.resolve(root, relative);
  // Only files inside the root (no "..", no absolute paths smuggled in).
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  try {
    if (!(await stat(file)).isFile()) return null;
    const body = await readFile(file);
    const type = lookup(file) ?? "application/octet-stream";
    return {
      body,
      type: TEXT.test(type) ? `${type}; charset=utf-8` : type,
      etag: `"${createHash("sha1").update(body).digest("base64url")}"`,
    };
  } catch {
    return null;
  }
}

/** Answers a request for a path under /app (or /app itself). */
export async function handleWebApp(request: Request, pathname: string, options: WebAppOptions = {}): Promise<Response> {
  if (pathname === APP_PATH) return redirect(`${APP_PATH}/`);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Use GET\n", { status: 405, headers: { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" } });
  }
  const root = path.resolve(options.root ?? DEFAULT_WEB_ROOT);
  let relative: string;
  try {
    relative = decodeURIComponent(pathname.slice(APP_PATH.length + 1));
  } catch {
    return notFound();
  }
  if (relative.includes("\0")) return notFound();

  let file = relative && !relative.endsWith("/") ? await readStatic(root, relative) : null;
  let cache = relative.startsWith("assets/") ? IMMUTABLE : REVALIDATE;
  if (!file) {
    // A missing script or image is a 404, never the page in its place.
    if (relative.startsWith("assets/") || /\.[a-z0-9]+$/i.test(relative)) return notFound();
    file = await readStatic(root, "index.html");
    cache = REVALIDATE;
    if (!file) {
      return new Response("The billing UI is not built: run `npm run build:web` (npm install does it).\n", {
        status: 503,
        headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
      });
    }
  }
  const headers = { ...SECURITY_HEADERS, "content-type": file.type, "cache-control": cache, etag: file.etag };
  if (request.headers.get("if-none-match") === file.etag) return new Response(null, { status: 304, headers });
  return new Response(request.method === "HEAD" ? null : new Uint8Array(file.body), {
    status: 200,
    headers: { ...headers, "content-length": String(file.body.length) },
  });
}

function redirect(location: string): Response {
  return new Response(null, { status: 302, headers: { location } });
}

function notFound(): Response {
  return new Response("Not found\n", { status: 404, headers: { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" } });
}

/** The UI as a yoga plugin: /app/* and the redirect of `/`. */
export function useWebApp(options: WebAppOptions = {}): Plugin {
  return {
    onRequest({ request, url, endResponse }) {
      if (url.pathname === "/") return endResponse(redirect(`${APP_PATH}/`));
      if (url.pathname !== APP_PATH && !url.pathname.startsWith(`${APP_PATH}/`)) return;
      return handleWebApp(request, url.pathname, options).then(endResponse);
    },
  };
}
