import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';

/** What a variant's timed part cost: wall time, this process's CPU, and PostgreSQL's CPU for its database. */
export interface Elapsed {
  seconds: number;
  /** User + system CPU of the variant's own process (Node), seconds. */
  clientCpuSeconds: number;
  /**
   * User + system CPU of the PostgreSQL backends serving the variant's database, seconds; null when the
   * server's processes cannot be read (not on this machine, or /proc not readable).
   */
  serverCpuSeconds: number | null;
}

/** CPU seconds of each backend of one database, by process id. */
type BackendCpu = Map<number, number>;

const localHosts = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '']);

/** Clock ticks per second of /proc's CPU fields (USER_HZ); 100 on every Linux this runs on, asked anyway. */
function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/**
 * utime + stime of process `pid` in seconds, from /proc/<pid>/stat (fields 14 and 15, counted after the
 * command name, which may itself hold spaces and parentheses); undefined when the process is gone or is not
 * a PostgreSQL process (a pid read from a server elsewhere can name an unrelated local process).
 */
function processCpu(pid: number, ticks: number): number | undefined {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return undefined;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  } catch {
    return undefined;
  }
}

/**
 * Times a variant's measured part. The server's CPU is read per backend from /proc: every backend
 * connected to the variant's own database (each variant has a fresh one, so other sessions on a shared
 * server are not counted), sampled at start and at stop; a backend that appears in between counts from
 * zero, and one that ends before the stop is lost (so variants keep their connections open until then).
 * What it leaves out: the server's shared background work (WAL writer, checkpointer, autovacuum),
 * which every variant causes in proportion to what it writes.
 */
export class Stopwatch {
  #started = 0;
  #cpu: NodeJS.CpuUsage = process.cpuUsage();
  #before: BackendCpu | undefined;
  readonly #ticks = clockTicks();

  private constructor(private readonly monitor: pg.Client | undefined) {}

  /** A stopwatch for a variant writing into `databaseUrl` (none: a variant that writes nothing). */
  static async create(databaseUrl?: string): Promise<Stopwatch> {
    if (!databaseUrl || !localHosts.has(new URL(databaseUrl).hostname)) return new Stopwatch(undefined);
    const monitor = new pg.Client({ connectionString: databaseUrl });
    await monitor.connect();
    return new Stopwatch(monitor);
  }

  async start(): Promise<void> {
    this.#before = await this.#backendCpu();
    this.#cpu = process.cpuUsage();
    this.#started = performance.now();
  }

  async stop(): Promise<Elapsed> {
    const seconds = (performance.now() - this.#started) / 1000;
    const cpu = process.cpuUsage(this.#cpu);
    const after = await this.#backendCpu();
    await this.monitor?.end();
    let serverCpuSeconds: number | null = null;
    if (after && this.#before && after.size > 0) {
      serverCpuSeconds = 0;
      for (const [pid, total] of after) serverCpuSeconds += total - (this.#before.get(pid) ?? 0);
    }
    return { seconds, clientCpuSeconds: (cpu.user + cpu.system) / 1e6, serverCpuSeconds };
  }

  async #backendCpu(): Promise<BackendCpu | undefined> {
    if (!this.monitor) return undefined;
    const { rows } = await this.monitor.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    const cpu: BackendCpu = new Map();
    for (const { pid } of rows) {
      const seconds = processCpu(pid, this.#ticks);
      if (seconds === undefined) return undefined;
      cpu.set(pid, seconds);
    }
    return cpu;
  }
}
