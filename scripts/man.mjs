#!/usr/bin/env node
// Writes dist/man/sockit.1 from the built command tree and docs/cli.md's exit statuses;
// `npm run build` runs it after bundling the command (scripts/build-cli.mjs).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const { program } = await import(path.join(root, 'dist/cli/program.js'));
const { ENVIRONMENT, exitStatuses, manPage } = await import(path.join(root, 'dist/cli/man.js'));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

// Defaults shown in the page are everyone's, not those of the environment it is built in.
for (const variable of Object.keys(ENVIRONMENT)) delete process.env[variable];
const epoch = Number(process.env.SOURCE_DATE_EPOCH);
const date = (Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date())
  .toISOString()
  .slice(0, 10);

const page = manPage(await program(), {
  date,
  version,
  exitStatuses: exitStatuses(readFileSync(path.join(root, 'docs/cli.md'), 'utf8')),
});
mkdirSync(path.join(root, 'dist/man'), { recursive: true });
writeFileSync(path.join(root, 'dist/man/sockit.1'), page);
