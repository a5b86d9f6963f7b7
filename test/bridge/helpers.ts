// Shared helpers of the bridge tests: child-process servers that announce their endpoint, a raw
// DEALER for hand-made frames, seeded actions, and exact array comparison.
import { spawn, spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Dealer } from "zeromq";

import { spawnAnnouncingServer, spawnEnvServer, type SpawnedServer } from "../../src/lib/bridge/spawn.ts";
import { Rng } from "../../src/lib/util/rng.ts";
import { PYTHON, pythonModulesMissing } from "../test-deps.ts";

export { PYTHON };

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Python children leave no __pycache__ folders in the tree. */
const kPythonEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };

/** A server child process (see src/lib/bridge/spawn.ts). */
export type ChildServer = SpawnedServer;

/** Spawns a server process and resolves once it prints its {"endpoint","session"} line. */
export function startChild(command: string, args: string[]): Promise<ChildServer> {
  return spawnAnnouncingServer(command, args, repoRoot, command === PYTHON ? kPythonEnv : process.env);
}

/** A built-in env server in its own node process. */
export function startNodeServer(args: { bind?: string; envs?: number; seed?: number; token?: string }): Promise<ChildServer> {
  return spawnEnvServer(args);
}

/** Kills a child and waits for it to be gone. */
export function killChild(server: ChildServer, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  return server.stop(signal);
}

/** Why /usr/bin/python3 cannot run the Python side (null when it can). */
export function pythonMissing(): string | null {
  return pythonModulesMissing(["zmq", "numpy"]);
}

/**
 * Runs a Python script to completion and parses its JSON stdout. Asynchronous, so servers in this
 * process keep serving while it runs.
 */
export function runPython(script: string, args: string[]): Promise<unknown> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(PYTHON, [script, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], env: kPythonEnv });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${script} failed (${code ?? signal}): ${err}`));
      try {
        resolvePromise(JSON.parse(out));
      } catch (e) {
        reject(new Error(`${script} printed no JSON: ${(e as Error).message}: ${out.slice(0, 200)}`));
      }
    });
  });
}

/** A raw DEALER for hand-made requests; recv() resolves with the frames or null after timeoutMs. */
export class RawClient {
  readonly socket = new Dealer({ linger: 0 });

  constructor(endpoint: string) {
    this.socket.connect(endpoint);
  }

  async request(frames: (Buffer | string)[], timeoutMs = 2000): Promise<{ header: any; payload: Buffer[] } | null> {
    await this.socket.send(frames.map((f) => (typeof f === "string" ? Buffer.from(f) : f)));
    this.socket.receiveTimeout = timeoutMs;
    try {
      const [head, ...payload] = await this.socket.receive();
      return { header: JSON.parse(head.toString()), payload };
    } catch (err) {
      if ((err as { code?: string }).code === "EAGAIN") return null;
      throw err;
    }
  }

  /** JSON header plus float frames. */
  call(header: object, payload: Float32Array[] = [], timeoutMs = 2000) {
    return this.request([Buffer.from(JSON.stringify(header)), ...payload.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))], timeoutMs);
  }

  close(): void {
    this.socket.close();
  }
}

/** Deterministic actions in [-1, 1) (mulberry32), so runs can be repeated and shared with Python. */
export function seededActions(seed: number, steps: number, length: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: steps }, () => rng.fillSigned(new Float32Array(length)));
}

/** Index of the first difference, or -1 when equal element for element (NaN never equal). */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
