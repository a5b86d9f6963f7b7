// The config schema (configs/schema.json) as data: its option leaves, their flags, and the text
// that describes what each accepts. Everything else (yargs options, --help, errors, README table)
// is derived from this.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { packageRoot } from "../../../binding/package.ts";

/** One schema node, as much of JSON Schema as configs/schema.json uses. */
export interface SchemaNode {
  type?: "object" | "integer" | "number" | "string" | "boolean" | "array";
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  enum?: readonly string[];
  pattern?: string;
  minLength?: number;
  minItems?: number;
  maxItems?: number;
  items?: SchemaNode;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean;
  "x-flag"?: string;
  /** What the option accepts, in words, where its constraints read badly (a pattern). */
  "x-expected"?: string;
}

/** A settable option: its dotted path in the config, its CLI flag and its schema node. */
export interface OptionLeaf {
  path: string;
  flag: string;
  node: SchemaNode;
}

export const schemaPath = join(packageRoot, "configs", "schema.json");

/** Reads a schema file (configs/schema.json, or a copy of it). */
export function loadSchema(file: string): SchemaNode {
  return JSON.parse(readFileSync(file, "utf8")) as SchemaNode;
}

export const schema: SchemaNode = loadSchema(schemaPath);

/** Every leaf option of the schema, in schema order. */
export function optionLeaves(root: SchemaNode = schema, prefix = ""): OptionLeaf[] {
  const leaves: OptionLeaf[] = [];
  for (const [key, node] of Object.entries(root.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (node.type === "object") leaves.push(...optionLeaves(node, path));
    else leaves.push({ path, flag: node["x-flag"] ?? key, node });
  }
  return leaves;
}

/** The schema node at a dotted path, or undefined. */
export function nodeAt(path: string, root: SchemaNode = schema): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const key of path.split(".").filter(Boolean)) node = node?.properties?.[key];
  return node;
}

/** "integer between 1 and 65536", `one of "cpu", "cuda"`, "array of integer >= 1"... */
export function expectedText(node: SchemaNode): string {
  if (node["x-expected"]) return node["x-expected"];
  if (node.enum) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  if (node.type === "array") {
    const items = node.items ? expectedText(node.items) : "values";
    const count = node.minItems !== undefined ? ` (${node.minItems} to ${node.maxItems ?? "any"} items)` : "";
    return `array of ${items}${count}`;
  }
  if (node.type === "object") return "object";
  const lo = node.minimum !== undefined ? `>= ${node.minimum}` : node.exclusiveMinimum !== undefined ? `> ${node.exclusiveMinimum}` : "";
  const hi = node.maximum !== undefined ? `<= ${node.maximum}` : node.exclusiveMaximum !== undefined ? `< ${node.exclusiveMaximum}` : "";
  const inclusive = node.minimum !== undefined && node.maximum !== undefined;
  const range = inclusive ? ` between ${node.minimum} and ${node.maximum}` : lo && hi ? ` ${lo} and ${hi}` : lo || hi ? ` ${lo || hi}` : "";
  const pattern = node.pattern ? ` matching ${node.pattern}` : "";
  return `${node.type ?? "value"}${range}${pattern}`;
}

/** The schema's defaults as a full config object. */
export function schemaDefaults(root: SchemaNode = schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, node] of Object.entries(root.properties ?? {})) {
    out[key] = node.type === "object" ? schemaDefaults(node) : structuredClone(node.default);
  }
  return out;
}
