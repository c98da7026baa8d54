import type { Command } from 'commander';
import type { Logger } from '../log.js';

/** What every command action receives: parsed global flags and where to write. */
export interface CliContext {
  json: boolean;
  log: Logger;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** set by a command whose result is a failure it has already rendered (e.g. one tenant failed) */
  exitCode?: number;
}

export interface GlobalFlags {
  json?: boolean;
  logLevel?: string;
}

export function globalsOf(command: Command): GlobalFlags {
  return command.optsWithGlobals() as GlobalFlags;
}
