/**
 * The attribution rules file, read at boot and watched afterwards, reloaded without restart
 * (docs/configuration.md, “Attribution rules file”). A bad file at boot stops the worker with the reason; a bad file later is logged and
 * the rules stay as they were, so a half-saved edit never reaches a partition.
 *
 * Watched two ways: `fs.watch` on the file's folder (editors replace a file by renaming a new one
 * over it, which a watch on the file itself stops seeing), and a poll every `reloadPollMs` for file
 * systems that deliver no notifications (network mounts, some containers). Either way the file is
 * re-read and compared by content, so a notification without a change does nothing.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { BUILTIN_RULES, canonicalRules, parseRules, type AttributionRules } from '../../schema/attributionRules.ts';
import { rulesFilePath, type ClusterConfig } from '../../schema/config.ts';
import { RulesError } from '../../schema/errors.ts';

/** Notifications come in bursts (truncate, write, close): the file is read once they settle. */
const SETTLE_MS = 50;

/** Read and validate the rules file; the built-in rules when the config names none. Throws {@link RulesError}. */
export async function loadRulesFile(cfg: ClusterConfig): Promise<AttributionRules> {
  const path = rulesFilePath(cfg);
  if (path === undefined) return BUILTIN_RULES;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RulesError(path, '(file)', (err as NodeJS.ErrnoException).code ?? String(err), "a readable file (config attribution.rulesFile, env AFFSTREAM_ATTRIBUTION_RULES; '' for last click everywhere)");
  }
  return parseRules(text, path);
}

/** The rules file in force, reloaded when it changes. */
export class RulesFile {
  private canonical: string;
  private watcher: FSWatcher | undefined;
  private readonly poll: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private reading = false;
  /** The last error logged, so a bad file is reported once, not at every poll. */
  private lastError = '';

  /**
   * @param rules the rules read at boot ({@link loadRulesFile})
   * @param onChange called with the new rules after each valid change
   */
  constructor(
    private readonly cfg: ClusterConfig,
    private rules: AttributionRules,
    private readonly log: Logger,
    private readonly onChange: (rules: AttributionRules) => void,
  ) {
    this.canonical = canonicalRules(rules);
    const path = rulesFilePath(cfg);
    if (path === undefined) return;
    try {
      this.watcher = watch(dirname(path), (_event, name) => {
        if (name === null || name === basename(path)) this.soon();
      });
      this.watcher.on('error', (err) => {
        log.warn({ err: String(err), path }, 'attribution rules watch failed; polling only');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      log.warn({ err: String(err), path }, 'attribution rules cannot be watched; polling only');
    }
    this.poll = setInterval(() => void this.reload(), cfg.attribution.reloadPollMs);
  }

  /** The rules in force. */
  get current(): AttributionRules {
    return this.rules;
  }

  private soon(): void {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => void this.reload(), SETTLE_MS);
  }

  /** Re-read the file; adopt valid new rules, log and ignore invalid ones. */
  async reload(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const rules = await loadRulesFile(this.cfg);
      this.lastError = '';
      const canonical = canonicalRules(rules);
      if (canonical === this.canonical) return;
      this.rules = rules;
      this.canonical = canonical;
      this.log.info({ version: rules.version }, 'attribution rules reloaded');
      this.onChange(rules);
    } catch (err) {
      const reason = err instanceof RulesError ? err.message : String(err);
      if (reason !== this.lastError) this.log.error({ err: reason }, 'attribution rules file rejected; the previous rules stay in force');
      this.lastError = reason;
    } finally {
      this.reading = false;
    }
  }

  /** Stop watching. */
  close(): void {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.settle);
  }
}
