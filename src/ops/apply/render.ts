import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, resolve } from 'node:path';
import { execa } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { UnavailableError } from '../../errors.js';
import { InvalidManifestError } from './errors.js';
import { isObject, ORIGIN_ANNOTATION, type KubeObject, type SourcedObject } from './manifest.js';

export interface RenderedManifests {
  objects: SourcedObject[];
  /** how they were read: `kubectl kustomize`, `kustomize build` or `files` */
  renderer: string;
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Reads what `apply` was pointed at: a kustomization directory is rendered by `kubectl kustomize`
 * (or `kustomize build`) — there is no kustomize for Node, and a partial re-implementation would
 * render overlays differently from the tool operators check them with; a plain directory or a file
 * is read as YAML, the way `kubectl apply -f` reads it. `cwd` makes file names in messages relative.
 */
export async function renderManifests(target: string, cwd = process.cwd()): Promise<RenderedManifests> {
  const path = resolve(cwd, target);
  const info = await stat(path).catch(() => undefined);
  if (!info)
    throw new InvalidManifestError(`${target} does not exist`, {
      hint: 'pass a kustomization directory, a directory of YAML files or a file',
    });
  if (info.isFile()) return { objects: await readManifestFile(path, cwd), renderer: 'files' };
  const entries = await readdir(path);
  if (entries.some((entry) => KUSTOMIZATION_FILES.includes(entry))) {
    const { stdout, renderer } = await runKustomize(path, target);
    return { objects: withOrigins(parseDocuments(stdout, `${renderer} ${target}`), path, cwd), renderer };
  }
  const files = entries.filter((entry) => MANIFEST_EXTENSIONS.has(extname(entry))).sort();
  if (files.length === 0) throw new InvalidManifestError(`${target} holds no kustomization and no .yaml, .yml or .json files`);
  const objects: SourcedObject[] = [];
  for (const file of files) objects.push(...(await readManifestFile(join(path, file), cwd)));
  return { objects, renderer: 'files' };
}

async function readManifestFile(path: string, cwd: string): Promise<SourcedObject[]> {
  const file = relative(cwd, path) || path;
  return parseDocuments(await readFile(path, 'utf8'), file).map((object) => ({ object, file }));
}

/** Every document of a YAML stream that holds an object; `kind: List` is unpacked. */
export function parseDocuments(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const document of parseAllDocuments(text)) {
    const problem = document.errors[0];
    if (problem) {
      const line = problem.linePos?.[0]?.line;
      throw new InvalidManifestError(`${source}${line ? `:${line}` : ''} is not valid YAML: ${problem.message.split('\n')[0]}`);
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue;
    if (!isObject(value))
      throw new InvalidManifestError(`${source}: a document is not an object (got ${Array.isArray(value) ? 'a list' : typeof value})`);
    if (value.kind === 'List' && Array.isArray(value.items)) objects.push(...value.items.map((item) => asObject(item, source)));
    else objects.push(asObject(value, source));
  }
  return objects;
}

function asObject(value: unknown, source: string): KubeObject {
  if (!isObject(value) || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string') {
    throw new InvalidManifestError(`${source}: every object needs apiVersion and kind`, { hint: 'is this a Kubernetes manifest?' });
  }
  const metadata = isObject(value.metadata) ? value.metadata : {};
  return { ...value, metadata } as KubeObject;
}

async function runKustomize(dir: string, target: string): Promise<{ stdout: string; renderer: string }> {
  const attempts: [string, string[], string][] = [
    ['kubectl', ['kustomize', dir], 'kubectl kustomize'],
    ['kustomize', ['build', dir], 'kustomize build'],
  ];
  for (const [command, args, renderer] of attempts) {
    const result = await execa(command, args, { reject: false, stdin: 'ignore' });
    if ((result as { code?: string }).code === 'ENOENT') continue;
    if (result.exitCode !== 0) {
      const message = String(result.stderr).trim().split('\n').slice(-3).join('\n');
      throw new InvalidManifestError(`${renderer} ${target} failed: ${message}`);
    }
    return { stdout: String(result.stdout), renderer };
  }
  throw new UnavailableError(
    `${target} is a kustomization, and rendering it needs kubectl (kubectl kustomize) or kustomize on PATH; neither was found`,
    {
      hint: 'install kubectl, or render it elsewhere (kubectl kustomize DIR > all.yaml) and pass the file',
    },
  );
}

/** Files named by kustomize's origin annotations, relative to cwd; the annotation itself is dropped. */
function withOrigins(objects: KubeObject[], dir: string, cwd: string): SourcedObject[] {
  return objects.map((object) => {
    const annotations = object.metadata.annotations;
    const origin = annotations?.[ORIGIN_ANNOTATION];
    if (!annotations || origin === undefined) return { object, file: undefined };
    const { [ORIGIN_ANNOTATION]: _dropped, ...rest } = annotations;
    const metadata: KubeObject['metadata'] = { ...object.metadata, annotations: rest };
    if (Object.keys(rest).length === 0) delete metadata.annotations;
    const originPath = (parse(origin) as { path?: unknown } | null)?.path;
    const file = typeof originPath === 'string' ? relative(cwd, resolve(dir, originPath)) : undefined;
    return { object: { ...object, metadata }, file };
  });
}
