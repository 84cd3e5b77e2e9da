#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { type Config, loadConfig, settingName } from './config.js';
import { audienceOf, ConfigError, InputError } from './errors.js';
import type { SkippedFile } from './ingest/sources.js';
import { PagerEvents } from './mcp/pager-events.js';
import { createServer, VERSION } from './mcp/server.js';
import { Pager } from './pager.js';
import { checkDataDir, listenError } from './preflight.js';
import { parseCommandLine, usage } from './usage.js';

// What `serve` over stdio does not need is imported by the command that does (the HTTP server, file
// reading, the demo, reindex): the bundle keeps each in a chunk of its own, read only then, so an MCP
// host waits less for `initialize`.

/**
 * Keeps `dir` ingested (see watchDirectory), reporting each file on stderr (stdout may be the protocol's);
 * resolves the function that stops it.
 */
async function startWatch(pager: Pager, config: Config, dir: string): Promise<() => Promise<void>> {
  const { watchDirectory } = await import('./watch.js');
  const watcher = await watchDirectory(pager, dir, {
    ignore: config.watchIgnore,
    onEvent: (e) => {
      if (e.kind === 'ingested')
        console.error(`vmem: ingested ${e.source}: ${e.documentId}, ${e.pages} pages (${e.newPages} new)`);
      else if (e.kind === 'forgotten') console.error(`vmem: forgot ${e.source} (deleted): ${e.pages} pages removed`);
      else console.error(`vmem: ${e.source}: ${(e.error as Error).message ?? e.error}`);
    },
  });
  console.error(`vmem: watching ${dir}`);
  return () => watcher.close();
}

async function serve(config: Config, watchDir?: string): Promise<void> {
  const pager = await Pager.open(config);
  const { connect, close } = createServer(pager, { events: new PagerEvents(pager), clientRoots: true });
  const stopWatch = watchDir === undefined ? undefined : await startWatch(pager, config, watchDir);
  const shutdown = async () => {
    await stopWatch?.().catch(() => {});
    await close().catch(() => {});
    await pager.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  process.stdin.on('end', () => void shutdown());
  await connect(new StdioServerTransport());
  console.error(`vmem ${VERSION} serving MCP on stdio; data in ${config.dataDir}`);
}

/** The bearer token: VMEM_AUTH_TOKEN, or the first line of the token file. Never printed. */
async function authToken(config: Config): Promise<string | undefined> {
  // Blank is unset, as for every VMEM_* variable.
  if (process.env.VMEM_AUTH_TOKEN?.trim()) return process.env.VMEM_AUTH_TOKEN.trim();
  if (!config.authTokenFile) return undefined;
  const where = `the token file ${config.authTokenFile} (${settingName('authTokenFile')})`;
  const text = await readFile(config.authTokenFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(
      `cannot read ${where}: ${err.code === 'ENOENT' ? 'no such file' : err.message}; give a readable file whose first line is the token`,
      { cause: err },
    );
  });
  const token = text.split('\n')[0]!.trim();
  if (!token) throw new ConfigError(`${where} is empty`);
  return token;
}

async function serveOverHttp(config: Config, watchDir?: string): Promise<void> {
  const { checkExposure, serveHttp } = await import('./http.js');
  const { advertisedOrigin, openNodeDirectory } = await import('./cluster/nodes.js');
  const token = await authToken(config);
  checkExposure(config.httpHost, token);
  const advertiseUrl = config.advertiseUrl || undefined;
  // With a catalog, other servers pass requests on to this one: refuse at once an address they cannot dial.
  if (config.catalogUrl) advertisedOrigin(config.httpHost, config.httpPort, advertiseUrl);
  const pager = await Pager.open(config);
  let server: Awaited<ReturnType<typeof serveHttp>>;
  const directory = await openNodeDirectory(config).catch(async (err: unknown) => {
    await pager.close();
    throw err;
  });
  try {
    server = await serveHttp(pager, {
      host: config.httpHost,
      port: config.httpPort,
      authToken: token,
      allowedHosts: config.allowedHosts,
      idleMs: config.sessionIdleSeconds * 1000,
      directory,
      advertiseUrl,
    });
  } catch (err) {
    await directory?.close();
    await pager.close();
    throw listenError(err, config.httpHost, config.httpPort) ?? err;
  }
  const stopWatch = watchDir === undefined ? undefined : await startWatch(pager, config, watchDir);
  const shutdown = async () => {
    await stopWatch?.().catch(() => {});
    await server.close().catch(() => {});
    await pager.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  console.error(
    `vmem ${VERSION} serving MCP at ${server.url}${token ? ' (bearer token required)' : ''}; health at ${server.url.replace(/\/mcp$/, '/healthz')}; data in ${config.dataDir}${directory ? `; node ${directory.nodeId} of the servers sharing ${settingName('catalogUrl')}` : ''}`,
  );
}

/**
 * Text read per ingest call: a tree of any size is paged a group of files at a time, so memory stays
 * bounded, and a run killed midway resumes where it stopped when run again (documents already paged
 * are recognised by their id and skipped without writing anything).
 */
const INGEST_GROUP_BYTES = 32 << 20;

async function ingest(config: Config, paths: string[]): Promise<void> {
  if (!paths.length) throw new InputError('path', 'give at least one file or directory: vmem ingest <path>...');
  const { sourceFiles, readSourceFiles, nothingToPage, skippedLines } = await import('./ingest/sources.js');
  const { progressBar } = await import('./progress.js');
  const pager = await Pager.open(config);
  try {
    for (const path of paths) {
      const { files, single } = await sourceFiles(path);
      const total = files.reduce((n, f) => n + f.bytes, 0);
      const bar = progressBar(`ingest ${path}`);
      let before = 0;
      let paged = 0;
      const skipped: SkippedFile[] = [];
      for (let i = 0; i < files.length; ) {
        const group = [];
        for (let bytes = 0; i < files.length && (bytes === 0 || bytes + files[i]!.bytes <= INGEST_GROUP_BYTES); i++) {
          bytes += files[i]!.bytes;
          group.push(files[i]!);
        }
        const read = await readSourceFiles(group, config.maxIngestBytes, { single });
        skipped.push(...read.skipped);
        const results = read.docs.length
          ? await pager.ingest(read.docs, (done) => bar.update(before + done, total))
          : [];
        before += group.reduce((n, f) => n + f.bytes, 0);
        bar.update(before, total);
        paged += results.length;
        for (const r of results)
          console.log(`${r.documentId}  ${r.pages} pages (${r.newPages} new)  ${r.tokens} tokens  ${r.source}`);
      }
      bar.done();
      if (!paged) throw nothingToPage(path, skipped);
      if (skipped.length) console.error(`skipped ${skipped.length} file(s):\n${skippedLines(skipped).join('\n')}`);
    }
  } finally {
    await pager.close();
  }
}

/** Ingests `dir`, then keeps it ingested until SIGINT or SIGTERM. */
async function ingestAndWatch(config: Config, dir: string): Promise<void> {
  const pager = await Pager.open(config);
  const stop = await startWatch(pager, config, dir);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await stop();
  await pager.close();
}

async function forget(config: Config, target: string | undefined): Promise<void> {
  if (target === undefined)
    throw new InputError(
      'target',
      'give a source or a document id as `vmem ls` lists them: vmem forget <source or id>',
    );
  const pager = await Pager.open(config);
  try {
    const r = await pager.forget(target, 'target');
    if (!r.documents.length) console.log(`${target} was already forgotten; nothing left to remove`);
    for (const d of r.documents) console.log(`forgot ${d.id}  ${d.current ? 'current' : 'superseded'}  ${d.source}`);
    if (r.documents.length)
      console.log(
        `${r.pagesRemoved} pages removed from every level; ${r.pagesShared} kept (other documents hold them)`,
      );
  } finally {
    await pager.close();
  }
}

/** A whole number of a command option, or the caller's error naming it. */
function wholeNumber(value: string | undefined, option: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new InputError(option, `is ${JSON.stringify(value)}; give a whole number from 0 to ${max}`);
  return n;
}

async function collect(config: Config, olderThan: string | undefined): Promise<void> {
  const seconds = wholeNumber(olderThan, '--older-than', 86_400, 10 * 365 * 86_400);
  const pager = await Pager.open(config);
  try {
    const r = await pager.collect(seconds * 1000);
    console.log(
      `collected ${r.documents} superseded versions: ${r.pagesRemoved} pages removed from every level; ${r.keptForSnapshots} kept for snapshots`,
    );
  } finally {
    await pager.close();
  }
}

/** The sources the store holds, a bounded page at a time: whatever the store holds, one call prints at most MAX_LS. */
async function list(config: Config, after: string | undefined, limit: string | undefined): Promise<void> {
  const n = wholeNumber(limit, '--limit', 100, MAX_LS);
  const pager = await Pager.open(config);
  try {
    const sources = pager.table.sources({ after: after ?? '', limit: n + 1 });
    const shown = sources.slice(0, n);
    console.log(['versions', 'current document', 'pages', 'tokens', 'source'].join('\t'));
    for (const s of shown)
      console.log(
        [s.versions, s.current?.id ?? '(none current)', s.current?.pages ?? 0, s.current?.tokens ?? 0, s.source].join(
          '\t',
        ),
      );
    if (sources.length > shown.length)
      console.error(`vmem: more after this; next: vmem ls --after ${JSON.stringify(shown.at(-1)!.source)}`);
  } finally {
    await pager.close();
  }
}

/** At most this many sources per `vmem ls`. */
const MAX_LS = 1000;

async function stats(config: Config): Promise<void> {
  const pager = await Pager.open(config);
  try {
    // Running totals the page table keeps: one row read, whatever the store holds.
    const totals = pager.table.totals();
    const snapshots = await pager.listSnapshots();
    console.log(
      JSON.stringify(
        {
          data_dir: config.dataDir,
          documents: totals.documents,
          pages: totals.pages,
          tokens: totals.tokens,
          page_tokens: config.pageTokens,
          encoding: config.encoding,
          l1_budget_tokens: config.l1Tokens,
          l2: pager.l2.name,
          // L3 holds pages and the summaries of evicted ones, each under its own key.
          l3: { backend: pager.l3.name, indexed: pager.l3.size() },
          summaries: {
            pages: totals.summaries,
            tokens: totals.summaryTokens,
            compressor: config.compressor,
          },
          l4: pager.l4.name,
          snapshots: snapshots.length,
          faults: totals.faults,
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
  const { command, words, flags, http, options } = parseCommandLine(process.argv.slice(2));
  if (command === 'help') return void console.log(usage(words[0] as Parameters<typeof usage>[0]));
  if (command === 'version') return void console.log(VERSION);
  if (command === 'demo') return (await import('./demo.js')).runDemo(flags);
  const config = loadConfig(flags);
  await checkDataDir(config.dataDir);
  switch (command) {
    case 'serve':
      return http ? serveOverHttp(config, options.watch) : serve(config, options.watch);
    case 'ingest':
      return options.watch === undefined ? ingest(config, words) : ingestAndWatch(config, options.watch);
    case 'forget':
      return forget(config, words[0]);
    case 'gc':
      return collect(config, options.olderThan);
    case 'ls':
      return list(config, options.after, options.limit);
    case 'stats':
      return stats(config);
    case 'reindex': {
      const [{ progressBar }, { reindex }] = await Promise.all([import('./progress.js'), import('./reindex.js')]);
      const bar = progressBar('reindex', (n) => `${n} pages`);
      const r = await reindex(config, (done, total) => bar.update(done, total));
      bar.done();
      console.log(
        `reindexed ${r.pages} pages of ${r.documents} documents from L4${r.backups.length ? `; previous files kept as ${r.backups.join(', ')}` : ''}`,
      );
      if (r.corrupt.length)
        console.error(
          `vmem: ${r.corrupt.length} page file(s) do not match their content address and were left out: ${r.corrupt.join(', ')}`,
        );
      for (const note of r.notes) console.error(`vmem: ${note}`);
      return;
    }
  }
}

main().catch((err: unknown) => {
  // The user's to fix (as the caller or the operator): one line that says how (exit 2); a stack trace would only hide it.
  const theirs = audienceOf(err) !== 'vmem';
  if (theirs) console.error(`vmem: ${(err as Error).message}`);
  // Ours: the whole error, its stack and its cause, for a bug report (exit 1).
  else console.error('vmem: internal error:', err);
  process.exit(theirs ? 2 : 1);
});
