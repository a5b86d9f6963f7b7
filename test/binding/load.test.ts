// The loader: finds the built addon, explains a missing or mismatched one, installs the error class.
import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { TennisTrainError, addonCandidates, loadAddon, packageVersion, runtimeInfo, setNumThreads } from "../../binding/index.ts";
import { addon } from "../../binding/load.ts";

describe("binding/load", () => {
  it("loads the addon whose version matches package.json", () => {
    expect(addon.version).to.equal(packageVersion);
    const info = runtimeInfo();
    expect(info.version).to.equal(packageVersion);
    expect(info.torchVersion).to.match(/^\d+\.\d+/);
    expect(info.cudaAvailable).to.be.a("boolean");
  });

  it("lists every path tried and the fixes when no addon exists", () => {
    const missing = ["/nonexistent/a/tennis_train.node", "/nonexistent/b/tennis_train.node"];
    let caught: unknown;
    try {
      loadAddon(missing);
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(TennisTrainError);
    const err = caught as TennisTrainError;
    expect(err.code).to.equal("ERR_ADDON_LOAD");
    expect(err.message).to.contain("/nonexistent/a/tennis_train.node: not found");
    expect(err.message).to.contain("/nonexistent/b/tennis_train.node: not found");
    expect(err.message).to.contain("npm run setup");
  });

  it("reports a file that is not a loadable addon", () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-load-"));
    const bogus = join(dir, "tennis_train.node");
    writeFileSync(bogus, "not an ELF shared object");
    expect(() => loadAddon([bogus])).to.throw(TennisTrainError, new RegExp(`${bogus}: .+`));
  });

  it("refuses an addon whose version differs from package.json", () => {
    const path = addonCandidates().find((p) => {
      try {
        loadAddon([p]);
        return true;
      } catch {
        return false;
      }
    })!;
    let caught: TennisTrainError | undefined;
    try {
      loadAddon([path], "9.9.9");
    } catch (err) {
      caught = err as TennisTrainError;
    }
    expect(caught?.code).to.equal("ERR_ADDON_VERSION");
    expect(caught?.message).to.contain(`addon version ${packageVersion} differs from package version 9.9.9`);
  });

  it("validates setNumThreads before it crosses", () => {
    expect(() => setNumThreads(0)).to.throw(TypeError, "Expected integer between 1 and 256 for threads but received 0 of type number");
    setNumThreads(1);
    expect(runtimeInfo().threads).to.equal(1);
  });
});

describe("native errors", () => {
  it("a core std::invalid_argument becomes TennisTrainError ERR_INVALID_ARG", () => {
    try {
      addon._throwForTest("invalid_argument");
      expect.fail("no throw");
    } catch (err) {
      expect(err).to.be.instanceOf(TennisTrainError);
      expect((err as TennisTrainError).code).to.equal("ERR_INVALID_ARG");
      expect((err as Error).message).to.equal("capacity must be >= 1, got 0");
    }
  });

  it("a LibTorch error becomes ERR_TORCH without a C++ backtrace", () => {
    try {
      addon._throwForTest("torch");
      expect.fail("no throw");
    } catch (err) {
      expect((err as TennisTrainError).code).to.equal("ERR_TORCH");
      expect((err as Error).message).to.contain("shape mismatch in a LibTorch op");
      expect((err as Error).message).not.to.contain("Exception raised from");
    }
  });

  it("a native argument check is a TypeError naming the argument", () => {
    expect(() => addon.setNumThreads("two")).to.throw(TypeError, "threads must be a number");
    expect(() => addon._throwForTest(1)).to.throw(TypeError, "kind must be a string");
  });
});
