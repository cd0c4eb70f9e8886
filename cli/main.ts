/**
 * `affstream <command>`: the registry of commands and the dispatch shared by all of them
 * (`--help`, usage errors, configuration errors, exit codes). Each command is a module in
 * `cli/commands/` exporting a {@link Command}; adding one is one line in {@link COMMANDS}.
 * Modules load lazily, so a quick command does not pay for the imports of a heavy one.
 */
import { describeError, type Command } from './command.ts';

/** Every command, by name, in the order `affstream --help` lists them. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  up: () => import('./commands/up.ts'),
  down: () => import('./commands/down.ts'),
  status: () => import('./commands/status.ts'),
  migrate: () => import('./commands/migrate.ts'),
  servers: () => import('./commands/servers.ts'),
  report: () => import('./commands/report.ts'),
  bench: () => import('./commands/bench.ts'),
  import: () => import('./commands/import.ts'),
};

async function overview(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: affstream <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `affstream <command> --help` for the options of a command.',
    '',
  ].join('\n');
}

/** Runs the command named by `argv[0]` with the rest of `argv`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const load = topic === undefined ? undefined : COMMANDS[topic];
    process.stdout.write(load ? (await load()).help : await overview());
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    process.stderr.write(`affstream: unknown command "${name}"\n\n${await overview()}`);
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`affstream ${name}: ${(err as Error).message}\nRun \`affstream ${name} --help\` for usage.\n`);
      return 2;
    }
    process.stderr.write(`affstream ${name}: ${describeError(err)}\n`);
    return 1;
  }
}
