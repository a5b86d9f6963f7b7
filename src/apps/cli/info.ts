// `tennis-train info`: package, addon and LibTorch versions, CUDA, threads and BLAS.
import type { CommandModule } from "yargs";

import { packageVersion, runtimeInfo, setNumThreads } from "../../../binding/index.ts";
import { nodeAt } from "../../lib/config/schema.ts";
import { printJson, withJson } from "./common.ts";
import { intFlag } from "./options.ts";

export interface InfoResult {
  package: string;
  addon: string;
  libtorch: string;
  cudaBuilt: boolean;
  cudaAvailable: boolean;
  cudaDevice: string | null;
  threads: number;
  blas: string;
  node: string;
  platform: string;
}

/** Gathers the facts `info` prints; `threads` sets LibTorch's threads first when given. */
export function gatherInfo(threads?: number): InfoResult {
  if (threads !== undefined) setNumThreads(threads);
  const native = runtimeInfo();
  return {
    package: packageVersion,
    addon: native.version,
    libtorch: native.torchVersion,
    cudaBuilt: native.cudaBuilt,
    cudaAvailable: native.cudaAvailable,
    cudaDevice: native.cudaDevice || null,
    threads: native.threads,
    blas: native.blas,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export const infoCommand: CommandModule = {
  command: "info",
  describe: "Print package, addon and LibTorch versions, CUDA, threads and BLAS",
  builder: (y) => withJson(y).option("threads", { describe: "LibTorch threads to report with (default: LibTorch's own)" }),
  handler: (argv) => {
    const threads = nodeAt("threads")!;
    const info = gatherInfo(intFlag(argv, "threads", threads.minimum!, threads.maximum!));
    if (argv.json) return printJson(info);
    const rows: [string, string][] = [
      ["tennis-train", info.package],
      ["addon", info.addon],
      ["LibTorch", info.libtorch],
      ["CUDA", info.cudaAvailable ? `available (${info.cudaDevice})` : info.cudaBuilt ? "built, no device" : "not built"],
      ["threads", String(info.threads)],
      ["BLAS", info.blas],
      ["node", `${info.node} (${info.platform})`],
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(14)}${v}`);
  },
};
