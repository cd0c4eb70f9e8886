/**
 * The shape of a CLI command. Each command is one module in `cli/commands/` whose exports are a
 * {@link Command}; `cli/main.ts` lists them and handles `--help`, usage errors and exit codes.
 */
import { ConfigError, RulesError } from '../schema/errors.ts';

/** One `affstream <name>` command. */
export interface Command {
  /** The word after `affstream`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full usage text, printed by `affstream <name> --help`. */
  help: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

/** Prints a progress or error line of the CLI itself (children's logs go to stdout). */
export function say(line: string): void {
  process.stderr.write(`affstream: ${line}\n`);
}

/** An expected failure whose message says all the user needs: printed without a stack. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/**
 * What to print for an error: the message alone for problems the user fixes (bad configuration, a
 * server or process that cannot start), where the message says how and a stack would bury it;
 * the stack for anything else.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err instanceof ConfigError || err instanceof RulesError || err instanceof CliError || err.name === 'ServerError' ? err.message : (err.stack ?? err.message);
}
