// A test hook for crash tests: with TENNIS_TRAIN_KILL_AT="<point>[:<n>[:<signal>]]" the process sends
// itself <signal> (default SIGKILL) the n-th time (default the first) it reaches killPoint("<point>"), so
// a test can stop a run at an exact place (between two steps of a checkpoint write, inside the final
// evaluation) instead of hoping that a signal at a random time lands there. Unset, killPoint does nothing.
const [kPoint, kCount = "1", kSignal = "SIGKILL"] = (process.env.TENNIS_TRAIN_KILL_AT ?? "").split(":");
let reached = 0;

/** Signals this process when TENNIS_TRAIN_KILL_AT names `point` and this is its n-th visit. */
export function killPoint(point: string): void {
  if (point !== kPoint) return;
  reached += 1;
  if (reached === Number(kCount)) process.kill(process.pid, kSignal as NodeJS.Signals);
}
