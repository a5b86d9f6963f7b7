// A `serve` in a process of its own for the memory tests (its RSS is measured from outside): serves
// the runs folder in argv[2] on a free loopback port and prints {"url": ...} once it listens.
import { serve } from "../../src/apps/server/server.ts";

const srv = await serve({ port: 0, token: "reliability-token-0123456789", runsDir: process.argv[2] });
process.stdout.write(`${JSON.stringify({ url: srv.url })}\n`);
process.on("SIGTERM", () => void srv.close().then(() => process.exit(0)));
