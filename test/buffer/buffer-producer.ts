// Child process of the buffer tests (run with `node --import tsx`):
//   attach <shmName> <producer> <count>   appends known transitions to a live buffer, then exits
//   own <shmName> exit|hang               creates a buffer, prints "ready", then process.exit(0)s without
//                                         dispose() (exit) or waits to be killed (hang)
import { ReplayBuffer } from "../../binding/buffer.ts";
import { knownStep } from "./records.ts";
import { bufferOptions } from "../helpers/buffer-options.ts";

const [mode, shmName, a, b] = process.argv.slice(2);
if (mode === "attach") {
  const buffer = ReplayBuffer.attach(shmName);
  const producer = Number(a);
  const count = Number(b);
  for (let seq = 0; seq < count; seq += 10) {
    const s = knownStep(producer, seq, Math.min(10, count - seq));
    buffer.add(s.obs, s.actions, s.rewards, s.nextObs, s.dones);
  }
  process.exit(0);
} else if (mode === "own") {
  const buffer = new ReplayBuffer(bufferOptions({ capacity: 100, shmName }));
  const s = knownStep(0, 0, 3);
  buffer.add(s.obs, s.actions, s.rewards, s.nextObs, s.dones);
  console.log("ready");
  if (a === "hang") setInterval(() => {}, 1000);
  else process.exit(0);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
