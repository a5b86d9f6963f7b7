// A throwaway PostgreSQL server for tests: initdb in a temporary data directory, listening on 127.0.0.1
// at a free port and on a unix socket in that directory; restartable; stop() removes everything. The
// server refuses to run as root, so as root initdb and pg_ctl run as the `postgres` user (Debian's
// package creates it) on a directory that user owns.
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PostgresServer {
  /** postgresql://tune@127.0.0.1:PORT/postgres (trust authentication, loopback only). */
  url: string;
  /** Stops the server (fast shutdown: clients are disconnected). */
  stop(): void;
  start(): void;
  /** Stops, removes the data directory; safe to call twice. */
  destroy(): void;
}

/** The folder of initdb and pg_ctl, or null when PostgreSQL's server binaries are not installed. */
export function postgresBinDir(): string | null {
  const onPath = spawnSync("sh", ["-c", "command -v pg_ctl"], { encoding: "utf8" }).stdout.trim();
  if (onPath && existsSync(join(onPath, "..", "initdb"))) return join(onPath, "..");
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "pg_ctl"))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0], "bin") : null;
}

/** Why a PostgreSQL test cannot run here, or null. */
export function postgresUnavailable(): string | null {
  if (!postgresBinDir()) return "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql, or npm run setup's test part";
  if (process.getuid?.() === 0 && spawnSync("id", ["-u", "postgres"]).status !== 0) return "running as root needs the postgres user to run the server (Debian's postgresql package creates it)";
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir()!;
  const root = mkdtempSync(join(tmpdir(), "tennis-pg-"));
  const data = join(root, "data");
  const asRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[]) => {
    const command = asRoot ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]] as const : [join(bin, tool), args] as const;
    execFileSync(command[0], [...command[1]], { cwd: root, stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
  };
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(root, uid, gid);
  }
  const port = await freePort();
  let running = false;
  const server: PostgresServer = {
    url: `postgresql://tune@127.0.0.1:${port}/postgres`,
    start() {
      const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${root} -c fsync=off -c max_connections=40`;
      run("pg_ctl", ["-D", data, "-o", options, "-l", join(root, "server.log"), "-w", "-t", "30", "start"]);
      running = true;
    },
    stop() {
      run("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "30", "stop"]);
      running = false;
    },
    destroy() {
      try {
        if (running) run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]);
      } finally {
        running = false;
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
  // A test process that ends without its after() hooks (an uncaught error, process.exit) still stops it.
  const onExit = () => server.destroy();
  process.once("exit", onExit);
  const destroy = server.destroy;
  server.destroy = () => {
    process.off("exit", onExit);
    destroy();
  };
  try {
    run("initdb", ["-D", data, "-U", "tune", "-A", "trust", "--no-sync", "-E", "UTF8"]);
    server.start();
  } catch (error) {
    server.destroy();
    throw error;
  }
  return server;
}
