/** `affstream migrate`: applies the ClickHouse migrations (schema/clickhouse/migrations). */
import { parseArgs } from 'node:util';
import { bootConfig } from '../../schema/bootConfig.ts';
import { migrate } from '../../schema/clickhouse/migrate.ts';
import { say } from '../command.ts';
import { pingServer } from '../servers.ts';

export const name = 'migrate';
export const summary = 'apply the ClickHouse migrations';
export const help = `Usage: affstream migrate

Applies the ClickHouse migrations that are not applied yet to the configured database
(clickhouse.database, default: the namespace). \`affstream up\` does this at every start; use
this command against a server started otherwise (CLICKHOUSE_URL) or after adding a migration.
ClickHouse must be reachable: start it with \`affstream servers\` or \`affstream up\`, or set
CLICKHOUSE_URL.

Options:
  -h, --help   show this text
`;

/** Runs `affstream migrate`. */
export async function run(argv: string[]): Promise<number> {
  parseArgs({ args: argv, options: {} });
  const cfg = await bootConfig();
  const ping = await pingServer(cfg, 'clickhouse');
  if (!ping.ok) {
    say(`ClickHouse is not reachable at ${ping.url} (${ping.detail}): start it with \`affstream servers\` or \`affstream up\`, or set CLICKHOUSE_URL`);
    return 1;
  }
  const applied = await migrate(cfg);
  say(applied.length > 0 ? `applied migrations ${applied.join(', ')} to ${cfg.clickhouse.database}` : `${cfg.clickhouse.database} is up to date`);
  return 0;
}
