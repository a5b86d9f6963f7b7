#!/usr/bin/env node
// Launcher for the `tennis-train` bin: registers tsx so the TypeScript sources run without a build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/apps/cli/main.ts");
await main(process.argv.slice(2));
