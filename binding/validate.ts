// Argument checks run before anything crosses into native code: one message shape, sharp-style
// ("Expected <what> for <name> but received <value> of type <type>"), always a TypeError.

/** Describes a received value for an error message. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (ArrayBuffer.isView(value)) {
    const length = (value as unknown as { length?: number }).length ?? value.byteLength;
    return `${value.constructor.name} of length ${length}`;
  }
  if (Array.isArray(value)) return `Array of length ${value.length}`;
  if (typeof value === "string") return `"${value}" of type string`;
  if (typeof value === "object") return "object";
  return `${String(value)} of type ${typeof value}`;
}

/** The TypeError every check throws. */
export function invalidParameter(name: string, expected: string, actual: unknown): TypeError {
  return new TypeError(`Expected ${expected} for ${name} but received ${describe(actual)}`);
}

export function assertFloat32Array(name: string, value: unknown, length?: number): asserts value is Float32Array {
  if (!(value instanceof Float32Array)) throw invalidParameter(name, "a Float32Array", value);
  if (length !== undefined && value.length !== length) {
    throw invalidParameter(name, `a Float32Array of length ${length}`, value);
  }
}

/** Every element finite (no NaN or Infinity); names the first bad index. */
export function assertFiniteArray(name: string, value: Float32Array): void {
  for (let i = 0; i < value.length; i++) {
    if (!Number.isFinite(value[i])) {
      throw new TypeError(`Expected finite numbers for ${name} but received ${value[i]} at index ${i}`);
    }
  }
}

export function assertInt(name: string, value: unknown, min = -Infinity, max = Infinity): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalidParameter(name, `integer ${rangeText(min, max)}`.trim(), value);
  }
}

export function assertNumber(name: string, value: unknown, min = -Infinity, max = Infinity): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw invalidParameter(name, `finite number ${rangeText(min, max)}`.trim(), value);
  }
}

export function assertBoolean(name: string, value: unknown): asserts value is boolean {
  if (typeof value !== "boolean") throw invalidParameter(name, "boolean", value);
}

export function assertString(name: string, value: unknown, choices?: readonly string[]): asserts value is string {
  if (typeof value !== "string" || (choices && !choices.includes(value))) {
    throw invalidParameter(name, choices ? `one of ${choices.map((c) => `"${c}"`).join(", ")}` : "string", value);
  }
}

function rangeText(min: number, max: number): string {
  if (min > -Infinity && max < Infinity) return `between ${min} and ${max}`;
  if (min > -Infinity) return `>= ${min}`;
  if (max < Infinity) return `<= ${max}`;
  return "";
}
