/**
 * What `tools/list` costs the model on every request: o200k_base tokens per tool of its name,
 * description and input schema, for vmem and for two reference servers, each spawned over stdio.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { tokenizer } from '../src/core/tokenizer.js';

export interface ToolListRow {
  server: string;
  tools: number;
  tokens: number;
  perTool: number;
}

const require = createRequire(import.meta.url);
const binOf = (pkg: string) => join(require.resolve(`${pkg}/package.json`), '..', 'dist', 'index.js');

async function measure(server: string, args: string[], env: Record<string, string> = {}): Promise<ToolListRow> {
  const client = new Client({ name: 'vmem-bench', version: '1' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args,
      env: { PATH: process.env.PATH ?? '', ...env },
      stderr: 'ignore',
    }),
  );
  try {
    const { tools } = await client.listTools();
    const enc = tokenizer('o200k_base');
    const tokens = tools.reduce(
      (n, t) => n + enc.count(JSON.stringify({ name: t.name, description: t.description, inputSchema: t.inputSchema })),
      0,
    );
    return { server, tools: tools.length, tokens, perTool: tokens / tools.length };
  } finally {
    await client.close();
  }
}

/** vmem (the built binary) beside @modelcontextprotocol/server-memory and server-filesystem. */
export async function benchToolList(cli: string): Promise<ToolListRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vmem-bench-tools-'));
  try {
    return [
      await measure('@modelcontextprotocol/server-memory', [binOf('@modelcontextprotocol/server-memory')], {
        MEMORY_FILE_PATH: join(dir, 'memory.jsonl'),
      }),
      await measure('@modelcontextprotocol/server-filesystem', [binOf('@modelcontextprotocol/server-filesystem'), dir]),
      await measure('vmem', [cli, 'serve', '--data-dir', join(dir, 'vmem')]),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
