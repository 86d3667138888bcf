// Runs every *.test.mjs here, one file at a time (each starts its own server), with node's
// test runner. Exits non-zero if any file fails. `node run.mjs shell` runs only matching files.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error('no browser test files matched');
  process.exit(1);
}

const failed = [];
for (const file of files) {
  console.log(`\n=== ${file}`);
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', path.join(here, file)], {
    stdio: 'inherit',
    cwd: here,
  });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (r.status !== 0) failed.push(file);
  console.log(`=== ${file}: ${r.status === 0 ? 'ok' : 'FAILED'} (${secs} s)`);
}

console.log(`\n${files.length - failed.length}/${files.length} browser test files passed`);
if (failed.length) {
  console.log(`failed: ${failed.join(', ')}`);
  process.exit(1);
}
