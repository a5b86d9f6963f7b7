// Known transitions for the buffer tests: every float derives from (producer id, sequence number), so
// a sampled record can be checked on its own, also when a child process appended it.
import { RECORD_FLOATS } from "../../binding/buffer.ts";

/** Float i (0..103, record layout) of transition (producer, seq). */
export function value(producer: number, seq: number, i: number): number {
  if (i === 0) return producer;
  if (i === 1) return seq;
  if (i === 52) return seq % 5 === 0 ? -0.01 : 0.1 * (seq % 2);
  if (i === 53) return 0;
  if (i >= 102) return (seq + i) % 2;
  return Math.fround((((producer * 7919 + seq * 104729 + i * 31) % 2001) - 1000) / 1000);
}

export interface Step {
  obs: Float32Array;
  actions: Float32Array;
  rewards: Float32Array;
  nextObs: Float32Array;
  dones: Float32Array;
}

/** n transitions (producer, seq0 .. seq0+n-1) as the flat arrays of ReplayBuffer.add. */
export function knownStep(producer: number, seq0: number, n: number): Step {
  const step: Step = {
    obs: new Float32Array(n * 48),
    actions: new Float32Array(n * 4),
    rewards: new Float32Array(n * 2),
    nextObs: new Float32Array(n * 48),
    dones: new Float32Array(n * 2),
  };
  for (let k = 0; k < n; k++) {
    const v = (i: number) => value(producer, seq0 + k, i);
    for (let i = 0; i < 48; i++) step.obs[k * 48 + i] = v(i);
    for (let i = 0; i < 4; i++) step.actions[k * 4 + i] = v(48 + i);
    for (let i = 0; i < 2; i++) step.rewards[k * 2 + i] = v(52 + i);
    for (let i = 0; i < 48; i++) step.nextObs[k * 48 + i] = v(54 + i);
    for (let i = 0; i < 2; i++) step.dones[k * 2 + i] = v(102 + i);
  }
  return step;
}

/** True when record (104 floats) is exactly the known transition it names. */
export function isKnown(record: Float32Array): boolean {
  if (record.length !== RECORD_FLOATS) return false;
  const producer = record[0];
  const seq = record[1];
  for (let i = 0; i < RECORD_FLOATS; i++) {
    if (record[i] !== Math.fround(value(producer, seq, i))) return false;
  }
  return true;
}
