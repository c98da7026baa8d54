import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { addOpsOptions, addSchemaOptions, addStoreOptions, type OpsFlags, type SchemaFlags, type StoreFlags } from '../options.js';

interface HistoryServeFlags extends StoreFlags, OpsFlags, SchemaFlags {
  host: string;
  port: string;
  poolSize: string;
}

export function historyServeCommand(ctx: () => CliContext): Command {
  const command = new Command('history-serve')
    .summary('serve users’ transaction histories to a gateway: GET /users/{id}/transactions')
    .description(
      'Serve the transaction history the worker’s history handler records, for a gateway to call (the\n' +
        'ride-share seed’s GET /api/finance/me, behind the gateway’s auth):\n' +
        '  GET /users/{id}/transactions?limit=N&before=CURSOR → {"user_id", "transactions": [...], "next_before"}\n' +
        'newest first, amounts in minor units (amount_minor) and major units (amount). An internal port:\n' +
        'keep it off the public path; it needs only the database, never Stripe. /healthz, /readyz\n' +
        '(database reachable, transactions table present) and /metrics are served on the same port\n' +
        'unless --metrics-port is given. Runs until SIGTERM/SIGINT.',
    )
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .option('--port <port>', 'port to listen on; 0 picks a free one', '8090')
    .option('--pool-size <n>', 'PostgreSQL connections', '4');
  addStoreOptions(command, ['databaseUrl']);
  addSchemaOptions(command);
  return addOpsOptions(command, { instead: 'the history port' }).action(async (flags: HistoryServeFlags) => {
    const c = ctx();
    const { databaseUrl, positiveInt, listenPort, schemaGateSettings } = await import('../../config.js');
    const { opsListener, runRole } = await import('../run-role.js');
    const ops = opsListener(flags);
    const url = databaseUrl(flags);
    const options = {
      databaseUrl: url,
      host: flags.host,
      port: listenPort(flags.port, '--port'),
      poolSize: positiveInt(flags.poolSize, '--pool-size', { max: 100 }),
      opsOnSamePort: ops === undefined,
    };
    const { HistoryService } = await import('../../history/service.js');
    c.exitCode = await runRole('history-serve', (registry) => new HistoryService({ ...options, registry, log: c.log }), {
      log: c.log,
      ops,
      schema: schemaGateSettings(flags, [url]),
      waitingOps: options.port === 0 ? undefined : { host: options.host, port: options.port },
      describe: (service) => ({ port: service.port }),
    });
  });
}
