/**
 * What the processes under test complained about: the warn/error lines of their pino logs, so a
 * run whose figures look fine but whose edge logged publish failures does not pass unnoticed.
 */
import { readFileSync } from 'node:fs';
import type { LogSummary } from './results.ts';

/** pino's numeric levels. */
const WARN = 40;
const ERROR = 50;
/** Distinct messages quoted in the summary. */
const SAMPLES = 5;

/**
 * Counts the warn and error entries of the pino log `file`. Output that is not JSON (a crash
 * trace, a library writing to the console) counts as an error, one per run of such lines.
 */
export function summarizeLog(file: string): LogSummary {
  const summary: LogSummary = { file, warnings: 0, errors: 0, samples: [] };
  let content = '';
  try {
    content = readFileSync(file, 'utf8');
  } catch {
    return summary;
  }
  let inText = false;
  for (const line of content.split('\n')) {
    if (line.trim() === '') continue;
    let level = ERROR;
    let message = line.trim();
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: unknown };
      level = entry.level ?? ERROR;
      message = `${entry.msg ?? ''}${entry.err === undefined ? '' : ` (${typeof entry.err === 'string' ? entry.err : JSON.stringify(entry.err)})`}`;
      inText = false;
    } catch {
      if (inText) continue;
      inText = true;
    }
    if (level < WARN) continue;
    if (level >= ERROR) summary.errors++;
    else summary.warnings++;
    const sample = message.slice(0, 300);
    if (summary.samples.length < SAMPLES && !summary.samples.includes(sample)) summary.samples.push(sample);
  }
  return summary;
}
