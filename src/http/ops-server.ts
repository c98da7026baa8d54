import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { ReadyState } from '../role.js';

export interface OpsEndpoints {
  registry: Registry;
  /** readiness: whether the role can do its work (Kubernetes routes and rolls by it) */
  ready: () => ReadyState | Promise<ReadyState>;
  log: Logger;
}

/**
 * The endpoints every long-running role serves: /healthz (the process answers), /readyz (it can
 * work) and /metrics (Prometheus text format). Registered on a server of their own (startOpsServer)
 * or beside a role's own routes (webhook-serve's port); either way the bound port is logged once
 * it listens.
 */
export function registerOpsRoutes(server: FastifyInstance, endpoints: OpsEndpoints): void {
  server.get('/healthz', async () => ({ status: 'ok' }));
  server.get('/readyz', async (_request, reply) => {
    const state = await Promise.resolve(endpoints.ready()).catch(() => false as const);
    const { ready, ...dependencies } = typeof state === 'boolean' ? { ready: state } : state;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', ...dependencies });
  });
  server.get('/metrics', async (_request, reply) => {
    reply.header('content-type', endpoints.registry.contentType);
    return endpoints.registry.metrics();
  });
  server.addHook('onListen', (done) => {
    const address = server.server.address();
    if (typeof address === 'object' && address) {
      endpoints.log.info({ host: address.address, port: address.port }, 'serving /healthz, /readyz and /metrics');
    }
    done();
  });
}

export interface RunningOpsServer {
  port: number;
  close: () => Promise<void>;
}

/** /healthz, /readyz and /metrics on a listener of their own. */
export async function startOpsServer(options: OpsEndpoints & { host: string; port: number }): Promise<RunningOpsServer> {
  const server = Fastify({ logger: false });
  registerOpsRoutes(server, options);
  await server.listen({ host: options.host, port: options.port });
  const address = server.server.address();
  return { port: typeof address === 'object' && address ? address.port : options.port, close: () => server.close() };
}
