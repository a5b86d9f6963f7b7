// A standalone env server for tests, benches and scripts/netns-bridge.sh (`tennis-train env-server`
// runs the same runEnvServer): prints one JSON line {"endpoint", "session"} on stdout once bound.
// Usage: tsx src/lib/bridge/child-server.ts [--bind ADDR] [--envs N] [--seed S] [--token T]
import { parseArgs } from "node:util";

import { runEnvServer } from "./run-env-server.ts";

const { values } = parseArgs({
  options: {
    bind: { type: "string" },
    envs: { type: "string" },
    seed: { type: "string" },
    token: { type: "string" },
    quiet: { type: "boolean" },
  },
});

await runEnvServer({
  bind: values.bind,
  envs: values.envs === undefined ? undefined : Number(values.envs),
  seed: values.seed === undefined ? undefined : Number(values.seed),
  token: values.token,
  log: values.quiet ? () => {} : undefined,
  ready: (server) => process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint, session: server.session })}\n`),
});
