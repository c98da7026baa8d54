#!/usr/bin/env node
// `npm run bench -- <name>...` runs bench/<name>.js (all when none is named), prints its figures
// and writes them to bench/results/<name>.json.
import { readdir, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = (await readdir(here))
  .filter((f) => f.endsWith('.js') && !['run.js'].includes(f) && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : available;
for (const name of names) {
  if (!available.includes(name)) {
    console.error(`no benchmark "${name}"; available: ${available.join(', ')}`);
    process.exit(2);
  }
}
await mkdir(join(here, 'results'), { recursive: true });
for (const name of names) {
  const { run } = await import(`./${name}.js`);
  console.log(`\n== ${name} ==`);
  const figures = await run();
  const result = { benchmark: name, date: new Date().toISOString(), ...figures };
  console.table(Object.fromEntries(Object.entries(figures).filter(([, v]) => typeof v !== 'object')));
  await writeFile(join(here, 'results', `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote bench/results/${name}.json`);
}
// Every figure is written: end here even if a client library left a socket or timer behind, so a
// bench run never outlives its work.
process.exit(0);
