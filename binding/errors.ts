// The one error class native code throws (besides TypeError/RangeError for bad arguments): a message
// without C++ backtrace and a stable `code`. Handed to the addon once at load (binding/load.ts).

/** Codes shared with native/napi/errors.h, plus the loader's own. */
export type TennisTrainErrorCode =
  | "ERR_INVALID_ARG"
  | "ERR_TORCH"
  | "ERR_NATIVE"
  | "ERR_BUSY"
  | "ERR_DISPOSED"
  | "ERR_ADDON_LOAD"
  | "ERR_ADDON_VERSION"
  | "ERR_NOT_IMPLEMENTED";

class TennisTrainErrorClass extends Error {
  readonly code: string;

  constructor(message: string, code: string = "ERR_NATIVE") {
    super(message);
    this.name = "TennisTrainError";
    this.code = code;
  }
}

// One class per process, even if a loader evaluates this module twice (tsx does for some dynamic
// imports): the addon is handed the class once, and `instanceof` must hold for every importer.
const kClassKey = Symbol.for("tennis-train.TennisTrainError");
const registry = globalThis as unknown as Record<symbol, typeof TennisTrainErrorClass | undefined>;

export const TennisTrainError: typeof TennisTrainErrorClass = (registry[kClassKey] ??= TennisTrainErrorClass);
export type TennisTrainError = TennisTrainErrorClass;
