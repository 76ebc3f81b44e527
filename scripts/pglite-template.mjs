// Makes the embedded database's template (src/db/template.ts) from the
// compiled server: npm install runs it after the build, so that a fresh
// data directory starts in a fraction of a second instead of running
// PGlite's initdb. Nothing happens when the template exists already.
import { pgliteSession } from "../dist/db/open.js";
import { buildTemplate } from "../dist/db/template.js";

const started = performance.now();
const { dir, built } = await buildTemplate(pgliteSession);
if (built) console.log(`embedded database template made in ${((performance.now() - started) / 1000).toFixed(1)} s: ${dir}`);
