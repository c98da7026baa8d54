import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { validateDatabaseUrl } from '../config.js';

/** A tenants file lists one database URL per line; blank lines and `#` comments are ignored. */
export async function readTenantsFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --tenants-file ${path}: ${(error as Error).message}`, { cause: error });
  }
  const urls: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    urls.push(validateDatabaseUrl(trimmed, `--tenants-file ${path} line ${index + 1}`));
  });
  if (urls.length === 0) throw new UsageError(`--tenants-file ${path} lists no database URL`);
  return urls;
}
