import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { UnavailableError, UsageError } from '../../errors.js';
import { KubeApiError } from './errors.js';

export interface ClusterTarget {
  client: KubeClient;
  context: string;
  server: string;
  /** the context's namespace, else default: where objects without one go */
  namespace: string;
}

/** Why there is no cluster to talk to, in words for the plan's header. */
export interface NoCluster {
  reason: string;
}

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Finds the cluster the way kubectl does: KUBECONFIG (a list of files), else ~/.kube/config, else
 * the pod's service account. @kubernetes/client-node would fall back to http://localhost:8080
 * when it finds none; apply says "no cluster" instead, so a dry run stays offline.
 */
export function findCluster(options: { context?: string; env?: NodeJS.ProcessEnv; home?: string } = {}): ClusterTarget | NoCluster {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const homeConfig = join(options.home ?? homedir(), '.kube', 'config');
  if (listed.length > 0) {
    const present = listed.filter((file) => existsSync(file));
    if (present.length === 0) return { reason: `KUBECONFIG names no file that exists (${listed.join(delimiter)})` };
    kc.loadFromFile(present[0]!);
    for (const file of present.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(file);
      kc.mergeConfig(more);
    }
  } else if (existsSync(homeConfig)) {
    kc.loadFromFile(homeConfig);
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
    kc.loadFromCluster();
  } else {
    return { reason: 'no kubeconfig (KUBECONFIG is unset and ~/.kube/config does not exist)' };
  }
  if (options.context) {
    if (!kc.getContextObject(options.context)) {
      throw new UsageError(`--context ${options.context} is not in the kubeconfig`, {
        hint: `contexts: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        }`,
      });
    }
    kc.setCurrentContext(options.context);
  }
  const context = kc.getCurrentContext();
  const cluster = kc.getCurrentCluster();
  if (!context || !cluster) return { reason: 'the kubeconfig has no current context (pass --context)' };
  const namespace = kc.getContextObject(context)?.namespace || 'default';
  return { client: new KubeClient(kc, cluster.server), context, server: cluster.server, namespace };
}

export interface KubeResponse {
  status: number;
  body: unknown;
  text: string;
}

/**
 * JSON over the library's request plumbing: KubeConfig applies the credentials and TLS settings
 * (tokens, client certificates, exec plugins, CA). Bodies are sent as written: the library's
 * generic object API re-serialises them through its typed models, which drops any field its
 * models do not know — unacceptable for server-side apply.
 */
export class KubeClient {
  constructor(
    private readonly config: KubeConfig,
    readonly server: string,
    private readonly timeoutMs = 30_000,
  ) {}

  async request(
    method: string,
    path: string,
    options: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string } = {},
  ): Promise<KubeResponse> {
    const url = new URL(this.server.replace(/\/+$/, '') + path);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    const headers: Record<string, string> = { Accept: 'application/json' };
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
    const requestOptions: https.RequestOptions = { method, headers };
    try {
      await this.config.applyToHTTPSOptions(requestOptions);
    } catch (error) {
      // Credentials that cannot be had (an exec plugin failing, an expired token source) or a refused setting.
      throw new UnavailableError(`cannot prepare a request to ${this.server}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    const transport = url.protocol === 'https:' ? https : http;
    if (transport === http) delete requestOptions.agent;
    return new Promise<KubeResponse>((resolve, reject) => {
      const request = transport.request(url, { ...requestOptions, timeout: this.timeoutMs }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if ((response.headers['content-type'] ?? '').includes('json')) {
            try {
              body = JSON.parse(text);
            } catch {
              // keep the text
            }
          }
          resolve({ status: response.statusCode ?? 0, body, text });
        });
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.timeoutMs / 1000}s`)));
      request.on('error', (error) =>
        reject(new UnavailableError(`cannot reach the Kubernetes API at ${this.server}: ${error.message}`, { cause: error })),
      );
      if (payload !== undefined) request.write(payload);
      request.end();
    });
  }

  /** A 2xx answer's body; any other status becomes a KubeApiError carrying the server's message. */
  async json<T>(method: string, path: string, options: Parameters<KubeClient['request']>[2] = {}): Promise<T> {
    const response = await this.request(method, path, options);
    if (response.status >= 200 && response.status < 300) return response.body as T;
    throw apiError(response, `${method} ${path}`);
  }

  /** The body, or undefined when the object does not exist (404). */
  async get<T>(path: string): Promise<T | undefined> {
    const response = await this.request('GET', path);
    if (response.status === 404) return undefined;
    if (response.status >= 200 && response.status < 300) return response.body as T;
    throw apiError(response, `GET ${path}`);
  }
}

export function apiError(response: KubeResponse, what: string): KubeApiError {
  const status =
    typeof response.body === 'object' && response.body !== null ? (response.body as { message?: string; reason?: string }) : {};
  const message = status.message ?? (response.text.trim().slice(0, 300) || `HTTP ${response.status}`);
  return new KubeApiError(response.status, status.reason, message, what);
}
