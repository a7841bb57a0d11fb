import { Worker } from 'node:worker_threads';
import { cpus } from 'node:os';

export interface MachineCalibration {
  cpus: number;
  /** Time for one thread to add 3·10⁹ integers. */
  oneThreadMs: number;
  /** Time for each of two threads doing the same at once: equal to oneThreadMs on two real cores. */
  twoThreadsMs: number;
}

// A fixed amount of pure CPU work, so that figures measured on different machines can be compared: the benches are
// CPU-bound on a 2-core machine, and such machines differ by a factor of three or more.
const SPIN = `
  const { parentPort } = require('node:worker_threads');
  // In a function: the script's own top-level variables would be slower to reach and measure the engine, not the CPU.
  function add() {
    let x = 0;
    for (let j = 0; j < 10; j++) for (let i = 0; i < 3e8; i++) x += i;
    return x;
  }
  const started = performance.now();
  const x = add();
  parentPort.postMessage({ ms: performance.now() - started, x });
`;

function spin(): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(SPIN, { eval: true });
    worker.once('message', (message: { ms: number }) => resolve(message.ms));
    worker.once('error', reject);
  });
}

export async function calibrateMachine(): Promise<MachineCalibration> {
  const oneThreadMs = await spin();
  const both = await Promise.all([spin(), spin()]);
  return { cpus: cpus().length, oneThreadMs: Math.round(oneThreadMs), twoThreadsMs: Math.round(Math.max(...both)) };
}
