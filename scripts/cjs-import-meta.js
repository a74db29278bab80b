// Injected into the CommonJS one-command bundles (scripts/build-cli.mjs), where esbuild
// defines import.meta.url as this: the bundle's own file URL, as import.meta.url is in an
// ES module.
export const import_meta_url = process.getBuiltinModule('node:url').pathToFileURL(__filename).href;
