// openAppendLog: appends, creates, and never writes through a symlink.
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";

import { openAppendLog } from "../../src/lib/util/append-log.ts";

describe("openAppendLog", function () {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "tennis-append-log-")); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function write(path: string, text: string): Promise<boolean> {
    const log = openAppendLog(path);
    if (!log) return false;
    log.end(text);
    await once(log, "close");
    return true;
  }

  it("creates the file, then appends to it", async () => {
    const path = join(dir, "stderr.log");
    expect(await write(path, "one\n")).to.equal(true);
    expect(await write(path, "two\n")).to.equal(true);
    expect(readFileSync(path, "utf8")).to.equal("one\ntwo\n");
  });

  it("returns null for a symlink and leaves the link's target as it was", async () => {
    const target = join(dir, "precious.txt");
    writeFileSync(target, "keep\n");
    const link = join(dir, "stderr.log");
    symlinkSync(target, link);
    expect(await write(link, "overwrite\n")).to.equal(false);
    expect(readFileSync(target, "utf8")).to.equal("keep\n");
  });

  it("returns null where the folder is missing", async () => {
    expect(await write(join(dir, "gone", "stderr.log"), "x")).to.equal(false);
  });
});
