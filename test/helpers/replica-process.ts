// The replica of test/fixtures/replica-process.ts, in a child process a test can kill with SIGKILL at any moment.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ReplicaStatus } from '../../src/index.js';

const fixture = fileURLToPath(new URL('../fixtures/replica-process.ts', import.meta.url));

export interface ReplicaProcess {
  pid: number;
  /** SIGKILL, and wait for the end. */
  kill(): Promise<void>;
  /** allReplicaStatus() of the engine in the process. */
  status(): Promise<ReplicaStatus[]>;
}

/** Starts the replica process with `config` (see the fixture) and resolves once it replicates. */
export async function replicaProcess(config: object): Promise<ReplicaProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code) => {
    exitCode = code;
    resolve();
  }));
  const answers: { resolve: (status: ReplicaStatus[]) => void; reject: (err: Error) => void }[] = [];
  // A request written as the process dies must not fail the test process.
  child.stdin!.on('error', () => undefined);
  void exited.then(() => {
    for (const answer of answers.splice(0)) answer.reject(new Error(`replica process exited with ${exitCode}`));
  });
  let started: () => void;
  const ready = new Promise<void>((resolve) => { started = resolve; });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'started') started();
    else if (line.startsWith('status ')) answers.shift()?.resolve(JSON.parse(line.slice('status '.length)) as ReplicaStatus[]);
  });
  await Promise.race([ready, exited.then(() => {
    throw new Error(`replica process exited with ${exitCode} before starting`);
  })]);
  return {
    pid: child.pid!,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    status: () => {
      if (exitCode !== undefined) return Promise.reject(new Error(`replica process exited with ${exitCode}`));
      return new Promise((resolve, reject) => {
        answers.push({ resolve, reject });
        child.stdin!.write('status\n');
      });
    },
  };
}
