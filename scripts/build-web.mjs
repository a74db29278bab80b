#!/usr/bin/env node
/**
 * Builds the browser side from web/ into dist/web/: each page's TypeScript bundled by esbuild
 * (minified, for the browsers of the last few years) and its stylesheet, both named with a
 * hash of their content (app-HASH.js, style-HASH.css), so that they can be cached for good;
 * the page's index.html, which is never cached, names them.
 *
 * usage: node scripts/build-web.mjs        (run by `npm run build`)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const PAGES = ['chat', 'dashboard'];

const hashed = (name, ext, content) =>
  `${name}-${createHash('sha256').update(content).digest('hex').slice(0, 10)}.${ext}`;

for (const page of PAGES) {
  const src = path.join(root, 'web', page);
  const out = path.join(root, 'dist', 'web', page);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const bundle = await build({
    entryPoints: [path.join(src, 'main.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    write: false,
    legalComments: 'none',
  });
  const js = bundle.outputFiles[0].contents;
  const css = readFileSync(path.join(src, 'style.css'));
  const files = { 'app.js': hashed('app', 'js', js), 'style.css': hashed('style', 'css', css) };
  writeFileSync(path.join(out, files['app.js']), js);
  writeFileSync(path.join(out, files['style.css']), css);
  const html = readFileSync(path.join(src, 'index.html'), 'utf8').replace(
    /\{\{(app\.js|style\.css)\}\}/g,
    (_, name) => files[name],
  );
  writeFileSync(path.join(out, 'index.html'), html);
}
