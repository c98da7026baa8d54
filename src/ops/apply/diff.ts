import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import { isObject, ORIGIN_ANNOTATION, type KubeObject } from './manifest.js';

/** Fields the server owns: they change on every write and say nothing about the manifest. */
const SERVER_METADATA = ['managedFields', 'resourceVersion', 'generation', 'uid', 'creationTimestamp', 'selfLink'];
const SERVER_ANNOTATIONS = ['deployment.kubernetes.io/revision', 'kubectl.kubernetes.io/last-applied-configuration', ORIGIN_ANNOTATION];

function normalise(object: Record<string, unknown>): Record<string, unknown> {
  const { status: _status, ...rest } = object;
  const metadata = isObject(rest.metadata) ? { ...rest.metadata } : {};
  for (const key of SERVER_METADATA) delete metadata[key];
  if (isObject(metadata.annotations)) {
    const annotations = { ...metadata.annotations };
    for (const key of SERVER_ANNOTATIONS) delete annotations[key];
    if (Object.keys(annotations).length) metadata.annotations = annotations;
    else delete metadata.annotations;
  }
  return { ...rest, metadata };
}

/** Secret values never reach the terminal: each becomes *** and, where it changes, says so (as kubectl diff). */
function maskSecrets(before: Record<string, unknown>, after: Record<string, unknown>): [Record<string, unknown>, Record<string, unknown>] {
  const values = (object: Record<string, unknown>): Record<string, unknown> => ({
    ...(isObject(object.data) ? object.data : {}),
    ...(isObject(object.stringData)
      ? Object.fromEntries(Object.entries(object.stringData).map(([k, v]) => [k, Buffer.from(String(v)).toString('base64')]))
      : {}),
  });
  const a = values(before);
  const b = values(after);
  const mask = (own: Record<string, unknown>, other: Record<string, unknown>, suffix: string) =>
    Object.fromEntries(Object.keys(own).map((key) => [key, own[key] === other[key] ? '***' : `*** (${suffix})`]));
  const strip = ({ data: _d, stringData: _s, ...rest }: Record<string, unknown>) => rest;
  return [
    { ...strip(before), ...(Object.keys(a).length ? { data: mask(a, b, 'before') } : {}) },
    { ...strip(after), ...(Object.keys(b).length ? { data: mask(b, a, 'after') } : {}) },
  ];
}

export interface ObjectDiff {
  changed: boolean;
  /** a unified diff of the live object against what it would become, server fields left out */
  text: string;
}

/** The difference `kubectl diff` shows: live object against the server's dry-run result. */
export function objectDiff(name: string, live: KubeObject | undefined, after: KubeObject): ObjectDiff {
  let before = live ? normalise(live) : undefined;
  let next = normalise(after);
  if (after.kind === 'Secret') {
    const [masked, maskedNext] = maskSecrets(before ?? {}, next);
    before = live ? masked : undefined;
    next = maskedNext;
  }
  const a = before ? stringify(before, { sortMapEntries: true }) : '';
  const b = stringify(next, { sortMapEntries: true });
  if (a === b) return { changed: false, text: '' };
  const patch = createTwoFilesPatch(live ? `live/${name}` : '/dev/null', `after/${name}`, a, b, undefined, undefined, { context: 3 });
  // Drop the "Index:"/"===" header lines jsdiff writes; keep ---/+++ and the hunks.
  return {
    changed: true,
    text: patch
      .split('\n')
      .filter((line) => !/^(Index: |={10,})/.test(line))
      .join('\n')
      .trimEnd(),
  };
}
