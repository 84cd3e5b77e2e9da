#!/usr/bin/env node
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ConfigError, loadConfig, SETTINGS, type Config } from './config.js';
import { runDemo } from './demo.js';
import { InputError } from './errors.js';
import { EmbedderMismatchError } from './tiers/l3/embedded.js';
import { readSources } from './ingest/sources.js';
import { createServer, VERSION } from './mcp/server.js';
import { Pager } from './pager.js';
import { progressBar } from './progress.js';
import { reindex } from './reindex.js';
import { isLoopback, serveHttp } from './http.js';
import { readFile } from 'node:fs/promises';

const USAGE = `vmem ${VERSION}: virtual memory for LLM agents, over MCP

Usage:
  vmem [serve]               MCP server over stdio (the default)
  vmem serve --http          MCP over Streamable HTTP at http://<host>:<port>/mcp, one session per client
  vmem ingest <path>...      page files or directories into the store
  vmem stats                 what the store holds
  vmem reindex               rebuild the page table and L3 from L4 (stop other vmem processes first)
  vmem demo                  page a generated 220k-token document through L1–L4 with a real MCP client

Options (each also an env var):
${Object.values(SETTINGS)
  .map((s) => `  ${`${s.flag} <v>`.padEnd(24)} ${s.env.padEnd(22)} ${s.doc}`)
  .join('\n')}`;

/** Splits argv into positional words and `--flag value` / `--flag=value` options. */
function parseArgs(argv: string[]): { words: string[]; flags: Record<string, string> } {
  const words: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      words.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) flags[a.slice(0, eq)] = a.slice(eq + 1);
    else if (a === '--help' || a === '--http') flags[a] = 'true';
    else {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new ConfigError(`option ${a} needs a value`);
      flags[a] = v;
      i++;
    }
  }
  return { words, flags };
}

async function serve(config: Config): Promise<void> {
  const pager = await Pager.open(config);
  const { server, close } = createServer(pager);
  const shutdown = async () => {
    await close().catch(() => {});
    await pager.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  process.stdin.on('end', () => void shutdown());
  await server.connect(new StdioServerTransport());
  console.error(`vmem ${VERSION} serving MCP on stdio; data in ${config.dataDir}`);
}

/** The bearer token: VMEM_AUTH_TOKEN, or the first line of the token file. Never printed. */
async function authToken(config: Config): Promise<string | undefined> {
  if (process.env.VMEM_AUTH_TOKEN) return process.env.VMEM_AUTH_TOKEN.trim();
  if (!config.authTokenFile) return undefined;
  const token = (await readFile(config.authTokenFile, 'utf8')).split('\n')[0]!.trim();
  if (!token) throw new ConfigError(`the token file ${config.authTokenFile} (VMEM_AUTH_TOKEN_FILE) is empty`);
  return token;
}

async function serveOverHttp(config: Config): Promise<void> {
  const token = await authToken(config);
  if (!isLoopback(config.httpHost) && !token) {
    throw new ConfigError(`listening on ${config.httpHost} needs a bearer token: set VMEM_AUTH_TOKEN or VMEM_AUTH_TOKEN_FILE (or use --host 127.0.0.1)`);
  }
  const pager = await Pager.open(config);
  const server = await serveHttp(pager, {
    host: config.httpHost,
    port: config.httpPort,
    authToken: token,
    allowedHosts: config.allowedHosts,
    idleMs: config.sessionIdleSeconds * 1000,
  });
  const shutdown = async () => {
    await server.close().catch(() => {});
    await pager.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  console.error(`vmem ${VERSION} serving MCP at ${server.url}${token ? ' (bearer token required)' : ''}; health at ${server.url.replace(/\/mcp$/, '/healthz')}; data in ${config.dataDir}`);
}

async function ingest(config: Config, paths: string[]): Promise<void> {
  if (!paths.length) throw new InputError('path', 'give at least one file or directory: vmem ingest <path>...');
  const pager = await Pager.open(config);
  try {
    for (const path of paths) {
      const docs = await readSources(path, config.maxIngestBytes);
      const bar = progressBar(`ingest ${path}`);
      const results = await pager.ingest(docs, (done, total) => bar.update(done, total));
      bar.done();
      for (const r of results) console.log(`${r.documentId}  ${r.pages} pages (${r.newPages} new)  ${r.tokens} tokens  ${r.source}`);
    }
  } finally {
    await pager.close();
  }
}

async function stats(config: Config): Promise<void> {
  const pager = await Pager.open(config);
  try {
    const pages = pager.table.listPages();
    const snapshots = await pager.listSnapshots();
    console.log(
      JSON.stringify(
        {
          data_dir: config.dataDir,
          documents: pager.table.listDocuments().length,
          pages: pages.length,
          tokens: pages.reduce((n, p) => n + p.tokens, 0),
          page_tokens: config.pageTokens,
          encoding: config.encoding,
          l1_budget_tokens: config.l1Tokens,
          l2: pager.l2.name,
          // L3 holds pages and the summaries of evicted ones, each under its own key.
          l3: { backend: pager.l3.name, indexed: pager.l3.size() },
          summaries: { pages: pages.filter((p) => p.summary).length, tokens: pages.reduce((n, p) => n + (p.summary?.tokens ?? 0), 0), compressor: config.compressor },
          l4: pager.l4.name,
          snapshots: snapshots.length,
          faults: pages.reduce((n, p) => n + p.faultCount, 0),
        },
        null,
        2,
      ),
    );
  } finally {
    await pager.close();
  }
}

async function main(): Promise<void> {
  const { words, flags } = parseArgs(process.argv.slice(2));
  const [command = 'serve', ...rest] = words;
  if (flags['--help'] || command === 'help') {
    console.log(USAGE);
    return;
  }
  delete flags['--help'];
  const http = flags['--http'] === 'true';
  delete flags['--http'];
  if (command === 'demo') return runDemo(flags);
  const config = loadConfig(flags);
  switch (command) {
    case 'serve':
      return http ? serveOverHttp(config) : serve(config);
    case 'ingest':
      return ingest(config, rest);
    case 'stats':
      return stats(config);
    case 'reindex': {
      const bar = progressBar('reindex', (n) => `${n} pages`);
      const r = await reindex(config, (done, total) => bar.update(done, total));
      bar.done();
      console.log(`reindexed ${r.pages} pages of ${r.documents} documents from L4${r.backups.length ? `; previous files kept as ${r.backups.join(', ')}` : ''}`);
      if (r.corrupt.length) console.error(`vmem: ${r.corrupt.length} page file(s) do not match their content address and were left out: ${r.corrupt.join(', ')}`);
      for (const note of r.notes) console.error(`vmem: ${note}`);
      return;
    }
    default:
      throw new ConfigError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

main().catch((err: unknown) => {
  // The user's to fix: the message says how, a stack trace would only hide it.
  const theirs = err instanceof ConfigError || err instanceof InputError || err instanceof EmbedderMismatchError;
  if (theirs) console.error(`vmem: ${err.message}`);
  else console.error('vmem:', err);
  process.exit(theirs ? 2 : 1);
});
