// The one rule for names that become a path segment: config names (configs/schema.json's `name`
// pattern), run directory names and checkpoint names. Letters, digits, `_`, `.` and `-`; no leading
// dot and no `..`, so a name can never be `.`, `..`, a hidden file or a step out of its folder.

/** Longest config name (the schema's `name`); a run id adds the env, seed and time around it. */
export const kMaxConfigNameLength = 64;
/** Longest run id or checkpoint name the server accepts. */
export const kMaxPathNameLength = 200;

/** The pattern of names of at most `maxLength` characters (configs/schema.json holds its 64 form). */
export function namePattern(maxLength: number): RegExp {
  return new RegExp(`^(?!.*\\.\\.)[A-Za-z0-9_][A-Za-z0-9_.-]{0,${maxLength - 1}}$`);
}

const kPathName = namePattern(kMaxPathNameLength);

/** Whether `name` is a safe run id or checkpoint name. */
export function isSafeName(name: string): boolean {
  return kPathName.test(name);
}
