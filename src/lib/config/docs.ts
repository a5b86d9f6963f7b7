// Documentation generated from the schema: the README's options table.
import { expectedText, optionLeaves } from "./schema.ts";

/** A Markdown table: flag, config key, accepted values, default, description. */
export function optionsTable(): string {
  const rows = optionLeaves().map(({ path, flag, node }) =>
    `| \`--${flag}\` | \`${path}\` | ${expectedText(node).replace(/\|/g, "\\|")} | \`${JSON.stringify(node.default)}\` | ${node.description} |`,
  );
  return ["| flag | config key | accepts | default | description |", "|---|---|---|---|---|", ...rows].join("\n");
}
