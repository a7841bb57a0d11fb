import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One process of the service (src/main.ts), started the way `npm start` does, that the suite can kill and start
 * again. Its output goes to a log file shared by its generations; every exit is recorded, and an exit the suite did
 * not ask for (a crash) is marked unexpected.
 */

export interface ProcessExit {
  process: string;
  generation: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
  expected: boolean;
}

export interface ServiceProcessOptions {
  name: string;
  port: number;
  logFile: string;
  /** The environment of one start (generation 1, 2, ...). */
  env(generation: number): Promise<Record<string, string>> | Record<string, string>;
  /** Modules loaded before the service (`node --import`), after tsx. */
  preload?: string[];
}

export class ServiceProcess {
  generation = 0;
  readonly exits: ProcessExit[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<ProcessExit> | undefined;
  private expecting = false;
  private readonly log: WriteStream;

  constructor(private readonly options: ServiceProcessOptions) {
    this.log = createWriteStream(options.logFile, { flags: 'a' });
  }

  get name(): string {
    return this.options.name;
  }

  get port(): number {
    return this.options.port;
  }

  /** Names this generation: `<name>-g<generation>`. */
  get label(): string {
    return `${this.options.name}-g${this.generation}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the next generation and resolves once /health/ready answers 200. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.label} is already running`);
    this.generation++;
    const generation = this.generation;
    const env = await this.options.env(generation);
    this.log.write(`\n=== ${this.label} starting at ${new Date().toISOString()}\n`);
    const preload = (this.options.preload ?? []).flatMap((module) => ['--import', module]);
    const child = spawn(process.execPath, ['--import', 'tsx', ...preload, 'src/main.ts'], {
      env: { ...process.env, ...env, PORT: String(this.options.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.child = child;
    this.expecting = false;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        const exit: ProcessExit = { process: this.options.name, generation, code, signal, at: Date.now(), expected: this.expecting };
        this.exits.push(exit);
        this.log.write(`=== ${this.options.name}-g${generation} exited (code ${code}, signal ${signal}) at ${new Date(exit.at).toISOString()}${exit.expected ? '' : ' UNEXPECTEDLY'}\n`);
        resolve(exit);
      });
    });
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (!this.running) throw new Error(`${this.label} exited during start-up:\n${this.tail(30)}`);
      try {
        const response = await fetch(`http://127.0.0.1:${this.options.port}/health/ready`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${this.label} not ready after 90 s:\n${this.tail(30)}`);
      await sleep(200);
    }
  }

  /** Sends the signal and waits for the exit, which is recorded as expected. */
  async kill(signal: NodeJS.Signals): Promise<ProcessExit> {
    const child = this.child;
    if (!child || !this.exited || !this.running) throw new Error(`${this.label} is not running`);
    this.expecting = true;
    child.kill(signal);
    return this.exited;
  }

  /** A graceful stop (SIGTERM); a process still there after `graceMs` is killed. Resolves with the exit. */
  async stop(graceMs = 20_000): Promise<ProcessExit | undefined> {
    if (!this.running || !this.exited) return this.exits.at(-1);
    const exiting = this.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    const exit = await exiting;
    clearTimeout(timer);
    return exit;
  }

  async close(): Promise<void> {
    if (this.running) await this.kill('SIGKILL');
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }

  /** The last lines of the log (for failure messages). */
  tail(lines: number): string {
    try {
      return readFileSync(this.options.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
