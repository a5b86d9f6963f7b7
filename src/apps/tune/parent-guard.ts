// Preloaded into each trial's child process (`node --import tsx --import parent-guard.ts runner.ts`):
// the study holds the write end of the child's stdin, so when the study dies, even by SIGKILL, stdin
// ends and the child stops itself the way a Ctrl-C would (SIGTERM: checkpoint, summary, exit) instead
// of training on as an orphan beside the resumed study.
const stdin = process.stdin;
let stopped = false;
const stop = () => {
  if (stopped) return;
  stopped = true;
  process.kill(process.pid, "SIGTERM");
};
stdin.on("end", stop);
stdin.on("close", stop);
stdin.on("error", stop);
stdin.resume();
// Watching stdin must not keep a finished run alive.
(stdin as unknown as { unref?: () => void }).unref?.();
