import type { ChildProcess } from 'node:child_process';

/** Keeps the first 20 kB a server prints, to show when it fails to start; resolves `exited` when it ends. */
export function captureOutput(child: ChildProcess): { output: () => string; exited: Promise<void> } {
  let output = '';
  const collect = (chunk: Buffer) => {
    if (output.length < 20_000) output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { output: () => output, exited };
}
