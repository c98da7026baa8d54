import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { Counter, type Registry } from 'prom-client';
import { createPool } from '../db/connect.js';
import { errorMessage, UsageError } from '../errors.js';
import { registerOpsRoutes } from '../http/ops-server.js';
import type { Logger } from '../log.js';
import { missingTableError, transactionHistory } from '../payments/history.js';
import type { ReadyState, Role } from '../role.js';

export interface HistoryServiceOptions {
  databaseUrl: string;
  host: string;
  port: number;
  poolSize: number;
  /** serve /healthz, /readyz and /metrics on the same port (no --metrics-port) */
  opsOnSamePort: boolean;
  registry: Registry;
  log: Logger;
}

export const HISTORY_PATH = '/users/:id/transactions';

/**
 * `paymentsctl history-serve`: the read path a gateway calls for a user's transactions (the
 * ride-share seed's GET /api/finance/me, behind its auth): GET /users/{id}/transactions?limit=&before=
 * answers the JSON of transactionHistory. Internal only — it needs the database and nothing else,
 * no Stripe key, and is never mounted on the public webhook receiver.
 */
export class HistoryService implements Role {
  private readonly pool: pg.Pool;
  private readonly server: FastifyInstance;
  private readonly requests: Counter<'code'>;
  private listening = false;
  port = 0;

  constructor(private readonly options: HistoryServiceOptions) {
    this.pool = createPool(options.databaseUrl, { max: options.poolSize, applicationName: 'paymentsctl history-serve' });
    this.requests = new Counter({
      name: 'paymentsctl_history_requests_total',
      help: 'GET /users/{id}/transactions requests by status code',
      labelNames: ['code'],
      registers: [options.registry],
    });
    this.server = Fastify({ logger: false, exposeHeadRoutes: false, forceCloseConnections: 'idle', return503OnClosing: true });
    this.routes();
  }

  private routes(): void {
    const { server, options } = this;
    server.get<{ Params: { id: string }; Querystring: { limit?: string; before?: string } }>(HISTORY_PATH, async (request, reply) => {
      const send = (code: number, body: unknown) => {
        this.requests.inc({ code: String(code) });
        return reply.code(code).send(body);
      };
      const userId = request.params.id.trim();
      const { limit, before } = request.query;
      if (!userId) return send(400, { error: { reason: 'bad_request', message: 'the user id is empty' } });
      if (limit !== undefined && !/^\d{1,4}$/.test(limit)) {
        return send(400, { error: { reason: 'bad_request', message: `limit must be a whole number, got "${limit}"` } });
      }
      try {
        const page = await transactionHistory(this.pool, userId, {
          ...(limit !== undefined ? { limit: Number(limit) } : {}),
          ...(before ? { before } : {}),
        });
        return send(200, page);
      } catch (error) {
        if (error instanceof UsageError) return send(400, { error: { reason: 'bad_request', message: error.message } });
        const cause = missingTableError(error) ?? error;
        options.log.error({ err: cause, userId }, 'history: cannot read the transactions');
        return send(503, { error: { reason: 'unavailable', message: 'the transaction history cannot be read right now' } });
      }
    });
    if (options.opsOnSamePort) registerOpsRoutes(server, { registry: options.registry, ready: () => this.isReady(), log: options.log });
    server.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: { reason: 'not_found', message: 'not found' } }));
    server.addHook('onListen', (done) => {
      const address = server.server.address();
      if (typeof address === 'object' && address) {
        options.log.info({ host: address.address, port: address.port }, 'serving GET /users/{id}/transactions');
      }
      done();
    });
  }

  async start(): Promise<void> {
    await this.server.listen({ host: this.options.host, port: this.options.port });
    const address = this.server.server.address();
    this.port = typeof address === 'object' && address ? address.port : this.options.port;
    this.listening = true;
  }

  async stop(): Promise<void> {
    if (this.listening) await this.server.close();
    this.listening = false;
    await this.pool.end().catch(() => undefined);
  }

  /** Ready when the database answers and has the transactions table. */
  async isReady(): Promise<ReadyState> {
    if (!this.listening) return { ready: false, database: 'not started' };
    try {
      await this.pool.query('SELECT 1 FROM transactions LIMIT 0');
      return { ready: true, database: 'ok' };
    } catch (error) {
      return { ready: false, database: errorMessage(missingTableError(error) ?? error) };
    }
  }
}
