import { Option, type Command } from 'commander';
import { DEFAULT_OUTAGE_LIMIT, SETTINGS } from '../settings.js';

/** commander argument parser for a repeatable flag: `--x a --x b` → ['a', 'b']. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The settings that also have a flag, and what their value looks like in --help. */
const FLAG_VALUES = {
  databaseUrl: '<url>',
  databaseSslCaFile: '<file>',
  kafkaBrokers: '<list>',
  kafkaSecurityProtocol: '<protocol>',
  kafkaSaslMechanism: '<mechanism>',
  kafkaSaslUsername: '<name>',
  kafkaOauthTokenFile: '<file>',
  kafkaSslCaFile: '<file>',
  kafkaSslCertFile: '<file>',
  kafkaSslKeyFile: '<file>',
  topicPrefix: '<prefix>',
  outageLimit: '<duration>',
} as const;
export type FlagSetting = keyof typeof FLAG_VALUES;

/** The flag of a setting, its help naming the variables it falls back to (all from SETTINGS). */
export function settingOption(name: FlagSetting, help: string = SETTINGS[name].description): Option {
  const spec = SETTINGS[name];
  const [primary, ...aliases] = spec.env;
  const fallback = aliases.length ? `${primary}, alias ${aliases.join(', ')}` : primary;
  return new Option(`${spec.flag} ${FLAG_VALUES[name]}`, `${help} (default: ${fallback})`);
}

/** What addStoreOptions adds, as commander parses it. */
export interface StoreFlags {
  databaseUrl?: string;
  databaseSslCaFile?: string;
  brokers?: string;
  kafkaSecurityProtocol?: string;
  kafkaSaslMechanism?: string;
  kafkaSaslUsername?: string;
  kafkaOauthTokenFile?: string;
  kafkaSslCaFile?: string;
  kafkaSslCertFile?: string;
  kafkaSslKeyFile?: string;
  topicPrefix?: string;
}

/** Settings whose flags come along with another's: how to reach a store securely. Passwords have no flag (ps shows flags). */
const COMPANIONS: Partial<Record<FlagSetting, readonly FlagSetting[]>> = {
  databaseUrl: ['databaseSslCaFile'],
  kafkaBrokers: [
    'kafkaSecurityProtocol',
    'kafkaSaslMechanism',
    'kafkaSaslUsername',
    'kafkaOauthTokenFile',
    'kafkaSslCaFile',
    'kafkaSslCertFile',
    'kafkaSslKeyFile',
  ],
};

/**
 * Where the pipeline's data lives: --database-url, --brokers, --topic-prefix (those of `settings`),
 * each with the flags of its TLS/SASL settings, with help of the command's own where it says more than the setting's description.
 */
export function addStoreOptions(
  command: Command,
  settings: readonly FlagSetting[] = ['databaseUrl', 'kafkaBrokers', 'topicPrefix'],
  help: Partial<Record<FlagSetting, string>> = {},
): Command {
  for (const name of settings) {
    command.addOption(settingOption(name, help[name]));
    for (const companion of COMPANIONS[name] ?? []) command.addOption(settingOption(companion, help[companion]));
  }
  return command;
}

export interface OpsFlags {
  metricsHost: string;
  metricsPort?: string;
  outageLimit?: string;
}

/**
 * --metrics-host and --metrics-port, where /healthz, /readyz and /metrics listen: on a port of their
 * own by default (`port`), or — `{ instead: 'the webhook port' }` — only when --metrics-port is given.
 */
export function addOpsOptions(command: Command, port: number | { instead: string }): Command {
  const own = typeof port === 'number';
  // Every long-running role has ops endpoints, and every one rides out an outage up to this limit.
  command.addOption(settingOption('outageLimit', `${SETTINGS.outageLimit.description}; default ${DEFAULT_OUTAGE_LIMIT}`));
  return command
    .option('--metrics-host <host>', `address for /healthz, /readyz, /metrics${own ? '' : ' (with --metrics-port)'}`, '0.0.0.0')
    .addOption(
      own
        ? new Option('--metrics-port <port>', 'port for /healthz, /readyz, /metrics; 0 picks a free one').default(String(port))
        : new Option(
            '--metrics-port <port>',
            `serve /healthz, /readyz, /metrics on this port instead of ${port.instead}; 0 picks a free one`,
          ),
    );
}

export interface SchemaFlags {
  waitForMigrations: string;
  allowNewerSchema?: boolean;
}

/** --wait-for-migrations and --allow-newer-schema: what a role does when its database's schema is not the one it ships. */
export function addSchemaOptions(command: Command): Command {
  return command
    .option(
      '--wait-for-migrations <duration>',
      'while the database has pending migrations (the migrate Job still running), stay not ready and wait this long, then exit 2; 0 refuses at once',
      '5m',
    )
    .option(
      '--allow-newer-schema',
      'start even if the database has migrations this binary does not know (an older image during a rollback)',
    );
}
