// The billing UI: Preact (small, the React API) compiled by Vite's own JSX
// transform (no plugin), served by Saldo at /app (src/http/app.ts).
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/app/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Every file fingerprinted under assets/ (cached for good); nothing
    // inlined as data: URLs, which the Content-Security-Policy refuses.
    assetsDir: "assets",
    assetsInlineLimit: 0,
    // The app is small; one chunk of a few hundred kB is fine.
    chunkSizeWarningLimit: 600,
  },
  // `npm run dev:web`: the UI with hot reload, talking to `npm start` on :4000.
  server: {
    proxy: { "/graphql": "http://localhost:4000", "/export": "http://localhost:4000" },
  },
});
