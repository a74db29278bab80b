// Injected into the CommonJS one-command bundles (scripts/build-cli.mjs), where esbuild
// defines import.meta.url as import_meta.url: the bundle's own file URL, as import.meta.url is
// in an ES module. Made when first asked for: pathToFileURL costs a command that never asks
// (most do not) half a millisecond at start.
export const import_meta = {
  get url() {
    return process.getBuiltinModule('node:url').pathToFileURL(__filename).href;
  },
};
