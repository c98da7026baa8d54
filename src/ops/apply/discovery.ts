import { groupOf, type KubeObject } from './manifest.js';
import type { KubeClient } from './kube-client.js';

export interface ServedResource {
  /** the resource's plural name in URLs (deployments) */
  plural: string;
  namespaced: boolean;
}

interface ApiResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * What the cluster serves, asked once per API group version, as kubectl's discovery does: /apis
 * lists the served group versions (a CRD that is not installed is simply absent), /api/v1 and
 * /apis/<group>/<version> the kinds in each.
 */
export class Discovery {
  private groupVersions: Promise<Set<string>> | undefined;
  private readonly lists = new Map<string, Promise<ApiResourceList | undefined>>();

  constructor(private readonly client: KubeClient) {}

  /** Whether the API group version is served at all (a CRD's presence). */
  async serves(apiVersion: string): Promise<boolean> {
    if (!apiVersion.includes('/')) return apiVersion === 'v1';
    this.groupVersions ??= this.client
      .json<{ groups: { versions: { groupVersion: string }[] }[] }>('GET', '/apis')
      .then((list) => new Set(list.groups.flatMap((group) => group.versions.map((version) => version.groupVersion))));
    return (await this.groupVersions).has(apiVersion);
  }

  /** The resource serving this kind, or undefined when the cluster does not serve it. */
  async resource(apiVersion: string, kind: string): Promise<ServedResource | undefined> {
    if (!(await this.serves(apiVersion))) return undefined;
    let list = this.lists.get(apiVersion);
    if (!list) {
      list = this.client.get<ApiResourceList>(versionPath(apiVersion));
      this.lists.set(apiVersion, list);
    }
    // Sub-resources (deployments/status) share the kind; the resource itself has no slash.
    const found = (await list)?.resources.find((resource) => resource.kind === kind && !resource.name.includes('/'));
    return found ? { plural: found.name, namespaced: found.namespaced } : undefined;
  }
}

export function versionPath(apiVersion: string): string {
  return groupOf(apiVersion) ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

export function collectionPath(apiVersion: string, resource: ServedResource, namespace: string | undefined): string {
  const scope = resource.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${versionPath(apiVersion)}${scope}/${resource.plural}`;
}

export function objectPath(object: KubeObject, resource: ServedResource): string {
  return `${collectionPath(object.apiVersion, resource, object.metadata.namespace)}/${encodeURIComponent(object.metadata.name ?? '')}`;
}
