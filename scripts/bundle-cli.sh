#!/usr/bin/env bash
# Bundles the tennis-train CLI into one ES module for a machine with node but no npm packages (as
# scripts/gpu-check.sh runs it): esbuild inlines the TypeScript and the pure-JS packages; the native
# ones that training does not use (zeromq: bridge; better-sqlite3: tune; playwright-core: e2e tests) are
# replaced by stand-ins that throw when used. The bundle resolves the repo from its own folder's parent,
# so OUT_DIR must be a direct child of the repo root.
#   scripts/bundle-cli.sh [OUT_DIR=.devnode]  ->  OUT_DIR/cli.mjs (node OUT_DIR/cli.mjs train --cuda ...)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.devnode}"
mkdir -p "$out"
cat >"$out/stub.mjs" <<'JS'
// Stand-ins for native packages left out of the bundle: using one is an error that names it.
const missing = (name) => class { constructor() { throw new Error(`${name} is not in this bundle of tennis-train`); } };
export const Dealer = missing("zeromq");
export const Router = missing("zeromq");
export default missing("better-sqlite3");
export const chromium = {};
JS
printf 'import { main } from "../src/apps/cli/main.ts";\nawait main(process.argv.slice(2));\n' >"$out/entry.ts"
# The dashboard's static files are read from the bundle's folder.
ln -sfn ../src/apps/server/public "$out/public"
npx esbuild "$out/entry.ts" --bundle --platform=node --format=esm --target=node20 --outfile="$out/cli.mjs" \
  --alias:zeromq="./$out/stub.mjs" --alias:better-sqlite3="./$out/stub.mjs" --alias:playwright-core="./$out/stub.mjs" \
  --banner:js="import { createRequire as __createRequire } from 'module'; const require = __createRequire(import.meta.url);" \
  --log-level=warning
echo "$out/cli.mjs"
