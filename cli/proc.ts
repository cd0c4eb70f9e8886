/**
 * Process plumbing shared by the server launcher and the CLI commands: pid files, liveness,
 * orderly termination and log tails. Linux-first (reads /proc), degrading to plain signals
 * elsewhere.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * True while `pid` names a running process. A zombie counts as gone: a child that exited but was
 * not reaped yet (its parent may be another process) still answers signal 0.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true;
  }
}

/**
 * The command line of `pid`, or undefined when it cannot be read (no /proc, or gone). Used to
 * check that a pid from a file still belongs to the program that wrote it, since pids are reused.
 */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and, where /proc can tell, its command line contains `needle`. */
export function isAliveAs(pid: number, needle: string): boolean {
  if (!isAlive(pid)) return false;
  const cmd = commandLine(pid);
  return cmd === undefined || cmd.includes(needle);
}

/** The pid stored in `file`, or undefined when the file is missing or holds no number. */
export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `pid` to `file` (the directory must exist). */
export function writePidFile(file: string, pid: number): void {
  writeFileSync(file, `${pid}\n`);
}

/** Removes `file` if present. */
export function removeFile(file: string): void {
  rmSync(file, { force: true });
}

/** Polls until `pid` is gone; false when it is still alive after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Stops `pid` the orderly way: SIGTERM, up to `graceMs` to exit, then SIGKILL. Resolves once it
 * is gone; `killed` tells whether SIGKILL was needed.
 */
export async function terminate(pid: number, graceMs = 10_000): Promise<{ killed: boolean }> {
  if (!signal(pid, 'SIGTERM')) return { killed: false };
  if (await waitForExit(pid, graceMs)) return { killed: false };
  signal(pid, 'SIGKILL');
  await waitForExit(pid, 5_000);
  return { killed: true };
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** The last `lines` lines of `file` (reads at most its last 64 KiB); empty when unreadable. */
export async function tail(file: string, lines = 20): Promise<string> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const length = Math.min(size, 65_536);
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, size - length);
      return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}
