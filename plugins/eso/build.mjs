// Builds the ESO plugin's component: plugins/target/eso/eso.wasm.
//
//   node build.mjs [--force]      (after `npm ci`; `./dev build` runs both)
//
// componentize-js (StarlingMonkey) turns src/plugin.js into a component of the world
// `capstan:plugin/plugin` in ../../wit. WASI stdio is disabled: with it the runtime also imports
// wasi:filesystem (types, preopens), which capstan does not link. The build then checks
// that the component imports only what capstan links, and skips all of it when the component
// is newer than its sources (src/, the lock file, wit/, this script) unless `--force`.

import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
process.chdir(here);

const SOURCE = "src/plugin.js";
const WIT = "../../wit";
const WORLD = "capstan:plugin/plugin";
const OUT = "../target/eso/eso.wasm";

/** What capstan links (host/src/runtime/imports.rs, ALLOWED_IMPORTS). */
const ALLOWED_IMPORTS = [
  "capstan:plugin/",
  "wasi:http/types@",
  "wasi:http/outgoing-handler@",
  "wasi:config/store@",
  "wasi:io/",
  "wasi:clocks/",
  "wasi:random/",
  "wasi:cli/stdin@",
  "wasi:cli/stdout@",
  "wasi:cli/stderr@",
  "wasi:cli/environment@",
  "wasi:cli/exit@",
  "wasi:cli/terminal-",
];

async function newest(path) {
  const info = await stat(path);
  if (!info.isDirectory()) {
    return info.mtimeMs;
  }
  let time = info.mtimeMs;
  for (const entry of await readdir(path)) {
    time = Math.max(time, await newest(join(path, entry)));
  }
  return time;
}

async function upToDate() {
  let built;
  try {
    built = (await stat(OUT)).mtimeMs;
  } catch {
    return false;
  }
  const sources = await Promise.all(["src", "package-lock.json", "build.mjs", WIT].map(newest));
  return sources.every((time) => time <= built);
}

if (!process.argv.includes("--force") && (await upToDate())) {
  console.error(`${relative(here, OUT)} is up to date`);
  process.exit(0);
}

let componentize;
let componentWit;
try {
  ({ componentize } = await import("@bytecodealliance/componentize-js"));
  ({ componentWit } = await import("@bytecodealliance/jco"));
} catch (error) {
  console.error(`the build tools are not installed (${error.message}): run \`npm ci\` in plugins/eso first (./dev build does)`);
  process.exit(1);
}

const started = Date.now();
const { component } = await componentize({
  sourcePath: SOURCE,
  witPath: WIT,
  worldName: WORLD,
  disableFeatures: ["stdio"],
});

const wit = await componentWit(component);
const imports = [...wit.matchAll(/^\s*import ([^;]+);/gm)].map((match) => match[1].trim());
const refused = imports.filter((name) => !ALLOWED_IMPORTS.some((allowed) => name.startsWith(allowed)));
if (refused.length > 0) {
  console.error(`the component imports what capstan does not link: ${refused.join(", ")}`);
  process.exit(1);
}

await mkdir(dirname(OUT), { recursive: true });
await writeFile(OUT, component);
console.error(
  `built ${relative(here, OUT)} (${(component.length / 1048576).toFixed(1)} MiB) in ${((Date.now() - started) / 1000).toFixed(1)} s; imports: ${imports.join(", ")}`,
);
