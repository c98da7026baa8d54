import chalk from 'chalk';
import type { EnsureTopicsResult } from '../kafka/topics.js';
import { mark } from './output.js';

export function renderTopics(result: EnsureTopicsResult): string {
  const lines = [
    ...result.created.map((t) => `${mark.ok()} created  ${t.name} ${chalk.dim(`(${t.partitions} partitions, rf ${t.replicationFactor})`)}`),
    ...result.existing.map((t) => `${mark.ok()} exists   ${t.name} ${chalk.dim(`(${t.partitions} partitions)`)}`),
    ...result.underPartitioned.map(
      (t) => `${mark.pending()} ${t.name} has ${t.partitions} partitions, fewer than asked; left unchanged (adding partitions moves keys)`,
    ),
    `${result.created.length} created, ${result.existing.length} already existed`,
  ];
  return `${lines.join('\n')}\n`;
}

/** --json: what was created and what was there, and every topic with its partitions. */
export function topicsJson(result: EnsureTopicsResult): Record<string, unknown> {
  return {
    created: result.created.map((t) => t.name),
    existing: result.existing,
    underPartitioned: result.underPartitioned,
    topics: [...result.created.map((t) => ({ name: t.name, partitions: t.partitions })), ...result.existing],
  };
}
