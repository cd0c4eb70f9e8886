/**
 * The processes a benchmark starts — servers under test, load tools — and their CPU time.
 *
 * Every child goes through one {@link ProcessSet}, which is the only place that spawns and stops
 * them, so that an error, a Ctrl-C or a crash of the harness never leaves an edge or a load tool
 * running. CPU time comes from `/proc/<pid>/stat` (utime + stime): that is what the process burnt
 * on every core, independent of how many requests the load tool managed to push.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { type ClusterConfig, serverPid, SERVER_NAMES, type ServerName } from '../../schema/mod.ts';

/** How a child ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child started through {@link ProcessSet.spawn}. */
export interface Child {
  /** Short name for messages ("edge", "wrk"). */
  name: string;
  pid: number;
  /** Where its output goes, when it goes to a file. */
  logFile?: string;
  /** Resolves when it has exited (never rejects). */
  exited: Promise<ExitStatus>;
  /** Its stdout so far, when spawned with `output: 'capture'`. */
  stdout(): string;
  /** Its stderr so far, when spawned with `output: 'capture'`. */
  stderr(): string;
}

/** Options of {@link ProcessSet.spawn}. */
export interface SpawnOptions {
  /** Added to the harness's own environment. */
  env?: Record<string, string>;
  /** `capture`: keep stdout and stderr in memory (load tools print their result there); a path: append both to that file. */
  output: 'capture' | string;
  /** Written to stdin, which is then closed. */
  stdin?: string;
  /**
   * A service (edge, worker, bare server) is meant to run until stopped: its exit before that
   * fails whatever {@link ProcessSet.guard} is waiting on.
   */
  service?: boolean;
}

/** Captured stdout is cut at this size: load tools print a few KiB, anything more is noise. */
const MAX_CAPTURE = 1 << 20;

/** Raised when a service exits on its own, or when the run is interrupted. */
export class ProcessError extends Error {
  override readonly name = 'ProcessError';
}

/** The children of one benchmark run. */
export class ProcessSet {
  private readonly children = new Map<number, Child>();
  private readonly stopping = new Set<number>();
  private failed: ((err: Error) => void) | undefined;
  private readonly failure: Promise<never>;
  private interruptedBy: string | undefined;
  /** Last resort when the harness dies without running its cleanup: a synchronous SIGKILL. */
  private readonly onExit = (): void => {
    for (const pid of this.children.keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  /** `cwd`: where children run; `node --import tsx` resolves tsx from there. */
  constructor(private readonly cwd: string) {
    this.failure = new Promise<never>((_, reject) => (this.failed = reject));
    // Nobody may be awaiting the failure yet; it is observed through guard().
    this.failure.catch(() => undefined);
    process.on('exit', this.onExit);
  }

  /**
   * Starts `command`. Children get their own process group so that a Ctrl-C in the terminal
   * reaches only the harness, which then stops them in order (edge before servers).
   */
  spawn(name: string, command: string, args: readonly string[], opts: SpawnOptions): Child {
    if (this.interruptedBy !== undefined) throw new ProcessError(`not starting ${name}: ${this.interruptedBy}`);
    const fd = opts.output === 'capture' ? undefined : openSync(opts.output, 'a');
    const proc = spawn(command, args, {
      cwd: this.cwd,
      detached: true,
      env: { ...process.env, ...opts.env },
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', fd ?? 'pipe', fd ?? 'pipe'],
    });
    if (fd !== undefined) closeSync(fd);
    let out = '';
    let err = '';
    proc.stdout?.on('data', (b: Buffer) => {
      if (out.length < MAX_CAPTURE) out += b.toString('utf8');
    });
    proc.stderr?.on('data', (b: Buffer) => {
      if (err.length < MAX_CAPTURE) err += b.toString('utf8');
    });
    if (opts.stdin !== undefined) {
      // A child stopped before it read all its input makes the write fail with EPIPE; its exit
      // status is what reports the failure, the pipe error must not crash the harness.
      proc.stdin?.on('error', () => undefined);
      proc.stdin?.end(opts.stdin);
    }
    const exited = new Promise<ExitStatus>((resolve) => {
      proc.once('error', (e) => {
        err += e.message;
        resolve({ code: null, signal: null });
      });
      proc.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const pid = proc.pid;
    if (pid === undefined) throw new ProcessError(`${name}: could not run ${command}`);
    const child: Child = { name, pid, logFile: fd === undefined ? undefined : opts.output, exited, stdout: () => out, stderr: () => err };
    this.children.set(pid, child);
    void exited.then((status) => {
      this.children.delete(pid);
      if (opts.service && !this.stopping.has(pid)) {
        const where = child.logFile ? `; see ${child.logFile}` : err ? `: ${err.trim().slice(-500)}` : '';
        this.failed?.(new ProcessError(`${name} (pid ${pid}) exited unexpectedly (${describeExit(status)})${where}`));
      }
      this.stopping.delete(pid);
    });
    return child;
  }

  /**
   * Stops one child: SIGTERM, `graceMs` to exit, then SIGKILL. The default leaves an edge the
   * 10 s it takes on SIGTERM to publish or spool its pending clicks.
   */
  async stop(child: Child, graceMs = 15_000): Promise<ExitStatus> {
    if (this.children.has(child.pid)) {
      this.stopping.add(child.pid);
      signal(child.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, graceMs, 'late')));
      if ((await Promise.race([child.exited, late])) === 'late') signal(child.pid, 'SIGKILL');
      clearTimeout(timer);
    }
    return child.exited;
  }

  /** Stops every child still running, the most recently started first. */
  async stopAll(graceMs?: number): Promise<void> {
    for (const child of [...this.children.values()].reverse()) await this.stop(child, graceMs);
    process.off('exit', this.onExit);
  }

  /**
   * Waits for `work`, but fails as soon as a service dies or the run is interrupted: a benchmark
   * against a crashed edge would otherwise report the load tool's connection errors as figures.
   */
  guard<T>(work: Promise<T>): Promise<T> {
    // Failure first: when both are already settled, race() picks the first, and an interrupt must win.
    return Promise.race([this.failure, work]);
  }

  /** Aborts the run (Ctrl-C): pending {@link guard}s reject, the children are stopped. */
  async interrupt(reason: string): Promise<void> {
    this.interruptedBy ??= reason;
    this.failed?.(new ProcessError(`interrupted (${reason})`));
    await this.stopAll();
  }
}

/** Sends `sig` to `pid`; a child already gone is not an error (its exit is already on its way). */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** "exit code 1" or "signal SIGKILL". */
export function describeExit(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, 100 on every common Linux). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    clockTicks = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** CPU time (user + system, all threads) `pid` has used so far, in µs. Throws when it is gone. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1_000_000) / ticksPerSecond();
}

/** CPU time the whole machine has used, all cores and processes, in µs. */
export interface MachineCpu {
  /** Every state of the first line of `/proc/stat` but idle and iowait (guest time is already inside user). */
  busyMicros: number;
  /**
   * Of {@link busyMicros}, `steal`: time the hypervisor gave this virtual machine's CPUs to other
   * guests while they had work. It slows every process under test, and no process of ours shows it.
   */
  stealMicros: number;
}

/** {@link MachineCpu} so far (since boot). */
export function machineCpu(): MachineCpu {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  const micros = (ticks: number) => (ticks * 1_000_000) / ticksPerSecond();
  return { busyMicros: micros(user + nice + system + irq + softirq + steal), stealMicros: micros(steal) };
}

/** What {@link withCpu} measured over a stretch of a run. */
export interface CpuSpan {
  /** Seconds the stretch took. */
  wallS: number;
  /** CPU µs each process used, in the order they were given. */
  cpuMicros: number[];
  /** What the whole machine used meanwhile. */
  machine: MachineCpu;
}

/**
 * Runs `work` and returns its result with the CPU µs each of `pids` used meanwhile, in the same
 * order, and what the whole machine used: on a shared machine the difference is other people's
 * work, which slows the processes under test as surely as their own.
 */
export async function withCpu<T>(pids: readonly number[], work: () => Promise<T>): Promise<CpuSpan & { result: T }> {
  const before = pids.map(cpuMicros);
  const machineBefore = machineCpu();
  const t0 = performance.now();
  const result = await work();
  const wallS = (performance.now() - t0) / 1000;
  const machineAfter = machineCpu();
  return {
    result,
    wallS,
    cpuMicros: pids.map((pid, i) => cpuMicros(pid) - (before[i] as number)),
    machine: { busyMicros: machineAfter.busyMicros - machineBefore.busyMicros, stealMicros: machineAfter.stealMicros - machineBefore.stealMicros },
  };
}

/**
 * Pids of the servers `affstream up` (or a benchmark) started for `cfg`, from their pid files:
 * their CPU is part of what an event costs. A server given by URL, or started by someone else
 * without a pid file here, is missing from the result and its CPU goes unmeasured.
 */
export function serverPids(cfg: ClusterConfig): Partial<Record<ServerName, number>> {
  const pids: Partial<Record<ServerName, number>> = {};
  for (const name of SERVER_NAMES) {
    const pid = serverPid(cfg, name);
    if (pid !== undefined) pids[name] = pid;
  }
  return pids;
}

/**
 * Resident memory of `pid` now and at its peak (`VmRSS`, `VmHWM` of /proc/<pid>/status), MiB;
 * undefined when the process is gone. The peak covers the process's whole life: for a server
 * reused from an earlier run it is not this run's alone.
 */
export function memoryMiB(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}
