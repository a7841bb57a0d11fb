import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * Prism (@stoplight/prism-cli) mocking a vendor's own OpenAPI file from ../shared/contracts: it refuses any request
 * that breaks the vendor's schema (4xx with an sl-violations header) and answers valid ones as the vendor documents.
 */
export interface PrismMock {
  url: string;
  stop(): Promise<void>;
}

/** The vendors' contracts live in shared/ beside the repository (CONTRACTS_DIR overrides). */
export const contractsDir = process.env.CONTRACTS_DIR ? `${process.env.CONTRACTS_DIR.replace(/\/$/, '')}/` : fileURLToPath(new URL('../../../shared/contracts/', import.meta.url));

export async function startPrism(contractFile: string, options: { timeoutMs?: number } = {}): Promise<PrismMock> {
  if (!existsSync(`${contractsDir}${contractFile}`)) {
    throw new Error(`Vendor contract ${contractsDir}${contractFile} not found: shared/ must sit beside the repository (or set CONTRACTS_DIR)`);
  }
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [fileURLToPath(new URL('../../node_modules/@stoplight/prism-cli/dist/index.js', import.meta.url)), 'mock', '-p', String(port), '-h', '127.0.0.1', `${contractsDir}${contractFile}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!/Prism is listening/.test(output)) {
    if (child.exitCode !== null) throw new Error(`prism exited: ${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prism did not start in time: ${output.slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
