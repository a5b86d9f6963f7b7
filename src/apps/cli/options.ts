// Checks of the commands' own flags (the config flags are checked by the schema): each bad value is a
// UsageError in the one message shape, naming the flag. The flags are declared without a yargs type,
// so a value yargs cannot read as a number reaches these checks as typed ("abc", not NaN).
import { invalidParameter } from "../../../binding/validate.ts";
import { writableDirProblem } from "../../lib/config/writable-dir.ts";
import { UsageError } from "./common.ts";

/** The largest seed any command accepts (the schema's `seed` range). */
export const kMaxSeed = 2 ** 32 - 1;
/** The largest TCP port. */
export const kMaxPort = 65535;

function usage(flag: string, expected: string, value: unknown): UsageError {
  return new UsageError(invalidParameter(`--${flag}`, expected, value).message);
}

/** An integer flag in [min, max], or `fallback` when absent. */
export function intFlag(argv: Record<string, unknown>, flag: string, min: number, max: number): number | undefined;
export function intFlag(argv: Record<string, unknown>, flag: string, min: number, max: number, fallback: number): number;
export function intFlag(argv: Record<string, unknown>, flag: string, min: number, max: number, fallback?: number): number | undefined {
  const value = argv[flag];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) throw usage(flag, `integer between ${min} and ${max}`, value);
  return value;
}

/** A finite number flag with min < value <= max, or undefined when absent. */
export function positiveNumberFlag(argv: Record<string, unknown>, flag: string, max: number): number | undefined {
  const value = argv[flag];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > max) throw usage(flag, `number > 0 and <= ${max}`, value);
  return value;
}

/** A non-empty string flag of at most `maxLength` characters, or undefined when absent. */
export function stringFlag(argv: Record<string, unknown>, flag: string, minLength = 1, maxLength = 4096): string | undefined {
  const value = argv[flag];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length < minLength || value.length > maxLength) {
    throw usage(flag, `a string of ${minLength} to ${maxLength} characters`, value);
  }
  return value;
}

/** A folder flag (or `fallback` when absent): created where missing and checked to be writable. */
export function writableDirFlag(argv: Record<string, unknown>, flag: string, fallback: string): string {
  const dir = stringFlag(argv, flag) ?? fallback;
  const problem = writableDirProblem(dir, `--${flag}`);
  if (problem) throw new UsageError(problem);
  return dir;
}

/** System calls whose failure means the chosen host or port cannot be used. */
const kListenSyscalls = new Set(["listen", "bind", "getaddrinfo"]);

/** Runs `start` (which binds `where`); a failure to listen there becomes a UsageError. */
export async function listening<T>(where: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    const syscall = (err as NodeJS.ErrnoException).syscall;
    if (syscall !== undefined && kListenSyscalls.has(syscall)) throw new UsageError(`Cannot listen on ${where}: ${(err as Error).message}`);
    throw err;
  }
}
