// Import rules of the TypeScript layers, checked by test/layout/imports.test.ts (`npm run check:imports` alone):
// binding/ (the addon's front end) <- src/lib/ (the library) <- bench/, src/apps/ (the programs).
// Imports point down only, and no module reaches itself through its imports.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A module that imports itself through others: the modules of a cycle cannot be read, tested or loaded apart.",
      from: {},
      to: { circular: true },
    },
    {
      name: "lib-not-to-apps",
      severity: "error",
      comment: "src/lib is the library under the programs: it imports neither src/apps nor bench.",
      from: { path: "^src/lib/" },
      to: { path: "^(src/apps|bench)/" },
    },
    {
      name: "bench-not-to-apps",
      severity: "error",
      comment: "The benches are programs over the library and binding; the CLI runs them, not the other way round.",
      from: { path: "^bench/" },
      to: { path: "^src/apps/" },
    },
    {
      name: "binding-not-to-src",
      severity: "error",
      comment: "binding/ is the bottom TypeScript layer, over the addon only.",
      from: { path: "^binding/" },
      to: { path: "^(src|bench)/" },
    },
  ],
  options: {
    // The typescript package here is TypeScript 7 (native, no JS API), so swc parses the sources.
    parser: "swc",
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/apps/server/public/" },
    tsPreCompilationDeps: true,
    moduleSystems: ["es6"],
  },
};
