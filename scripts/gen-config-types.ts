// Writes src/lib/config/types.ts, the TypeScript view of a resolved config, from configs/schema.json.
// Run: node --import tsx scripts/gen-config-types.ts   (test/config/types.test.ts checks it is current)
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { compile, type JSONSchema } from "json-schema-to-typescript";

import { packageRoot } from "../binding/package.ts";
import { expectedText, type SchemaNode } from "../src/lib/config/schema.ts";

export const configTypesPath = join(packageRoot, "src", "lib", "config", "types.ts");

const kBanner = `// Generated from configs/schema.json by scripts/gen-config-types.ts: do not edit.
// The TypeScript view of a resolved config (schema defaults fill every field, so every field is present).`;

type Node = Record<string, unknown> & { properties?: Record<string, Node> };

/**
 * The schema as the generator should read it: every property of an object required (resolution fills
 * them all from the defaults), each object titled (the root Config, the sections EnvConfig, ...), each
 * option's description followed by what it accepts and its default, and the CLI-only keywords dropped.
 */
function typingSchema(node: Node, title: string): Node {
  const out: Node = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("x-") || key === "$id" || key === "$schema" || key === "default") continue;
    out[key] = value;
  }
  if (!node.properties) {
    out.description = `${String(node.description)}\n\n${expectedText(node as SchemaNode)}; default \`${JSON.stringify(node.default)}\`.`;
  } else {
    out.title = title;
    out.required = Object.keys(node.properties);
    out.properties = Object.fromEntries(
      Object.entries(node.properties).map(([key, child]) => [key, typingSchema(child, `${key[0].toUpperCase()}${key.slice(1)}Config`)]),
    );
  }
  return out;
}

/** The text of src/lib/config/types.ts that configs/schema.json stands for now. */
export async function configTypesSource(schemaFile = join(packageRoot, "configs", "schema.json")): Promise<string> {
  const schema = JSON.parse(readFileSync(schemaFile, "utf8")) as Node;
  const root = { ...typingSchema(schema, "Config"), description: "A resolved config: every option of configs/schema.json, each one set." };
  return compile(root as JSONSchema, "Config", {
    bannerComment: kBanner,
    additionalProperties: false,
    ignoreMinAndMaxItems: true,
    declareExternallyReferenced: true,
    strictIndexSignatures: true,
    format: true,
    style: { printWidth: 140, singleQuote: false, semi: true, trailingComma: "all" },
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  writeFileSync(configTypesPath, await configTypesSource());
  console.log(`wrote ${configTypesPath}`);
}
