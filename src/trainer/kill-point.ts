// A test hook for crash tests: with TENNIS_TRAIN_KILL_AT="<point>" (or "<point>:<n>") the process
// SIGKILLs itself the first (n-th) time it reaches killPoint("<point>"), so a test can end a run at an
// exact place (between two steps of a checkpoint write, inside the final evaluation) instead of hoping
// that a kill at a random time lands there. Unset, killPoint does nothing.
const [kPoint, kCount] = (process.env.TENNIS_TRAIN_KILL_AT ?? "").split(":");
let reached = 0;

/** SIGKILLs this process when TENNIS_TRAIN_KILL_AT names `point` and this is its n-th visit. */
export function killPoint(point: string): void {
  if (point !== kPoint) return;
  reached += 1;
  if (reached === Number(kCount ?? 1)) process.kill(process.pid, "SIGKILL");
}
