/**
 * Shared fixtures for the test files (not a test file itself: the runner only picks up *.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import type { TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Timers } from '../src/backoff.ts';
import type { PageTable } from '../src/catalog.ts';
import { type Config, loadConfig } from '../src/config.ts';
import type { DocumentEntry, PageEntry } from '../src/core/page-table.ts';
import { demoDocument } from '../src/demo.ts';
import { PagerEvents } from '../src/mcp/pager-events.ts';
import { createServer } from '../src/mcp/server.ts';
import { Pager, type PagerParts } from '../src/pager.ts';
import type { Session } from '../src/session.ts';

export const REPO = join(import.meta.dirname, '..');
/** vmem's tools, sorted: what every client should see in tools/list. */
export const TOOL_NAMES = [
  'evict',
  'forget',
  'ingest',
  'load_page',
  'page_fault',
  'restore_context',
  'serialize_context',
];
/** vmem's resource templates, sorted: what every client should see in resources/templates/list. */
export const RESOURCE_TEMPLATES = [
  'vmem://documents/{documentId}',
  'vmem://documents/{documentId}{?from}',
  'vmem://page-table{?from}',
  'vmem://pages/{pageId}',
  'vmem://snapshots/{snapshotId}',
  'vmem://sources{?after}',
];
/** Public-domain prose committed with the tests (see its README): tests read nothing outside the repository. */
export const CHAPTERS_DIR = join(REPO, 'test', 'fixtures', 'moby-dick');

/**
 * Cleanups that run last-registered-first in one after hook (node:test runs separate after hooks in
 * registration order, which would remove a data dir before the pager that writes to it is closed).
 */
export function deferrals(t: TestContext): (fn: () => unknown) => void {
  const fns: (() => unknown)[] = [];
  t.after(async () => {
    for (const fn of fns.reverse()) await fn();
  });
  return (fn) => void fns.push(fn);
}

/** A fresh temp data dir; `cleanup` removes it. */
export function tempDir(prefix = 'vmem-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Config from flags only: an empty env so the user's VMEM_* / XDG vars never leak in. Path ingest may
 * read the temp dir, where the tests make their files.
 */
export function testConfig(dir: string, flags: Record<string, string> = {}): Config {
  return loadConfig({ '--data-dir': dir, '--ingest-roots': os.tmpdir(), ...flags }, {});
}

/** The pid of a process that has exited and been reaped: no process of this host holds it (short of reuse). */
export function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

/** A controllable clock. */
export function fakeClock(start = 1_700_000_000_000): {
  now: () => number;
  advance: (ms: number) => void;
  set: (t: number) => void;
} {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (v) => void (t = v) };
}

/**
 * Timers on a clock the test advances (see src/backoff.ts): a retry scheduled for later runs when the test
 * moves the clock past its time, never by sleeping.
 */
export function manualTimers(): Timers & { advance: (ms: number) => void; pending: () => number[] } {
  let now = 0;
  let seq = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimeout: (fn, ms) => {
      due.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (handle) => void due.delete(handle as number),
    advance(ms) {
      now += ms;
      for (;;) {
        const next = [...due].filter(([, d]) => d.at <= now).sort((a, b) => a[1].at - b[1].at)[0];
        if (!next) return;
        due.delete(next[0]);
        next[1].fn();
      }
    },
    /** The delays from now of the callbacks waiting. */
    pending: () => [...due.values()].map((d) => d.at - now).sort((a, b) => a - b),
  };
}

let demoCache: string | undefined;
/** The generated ~220k-token operations manual (deterministic); cached per process. */
export function demoDoc(): string {
  return (demoCache ??= demoDocument());
}

/** The fact sentence demoDocument holds for one station and year. */
export function factRe(station: string, year: number): RegExp {
  return new RegExp(`In ${year} the maintenance code for pump station ${station} was (\\d+)`);
}

/** The first `n` fixture chapters, concatenated with distinct headers (deterministic order). */
export function chapters(n: number): string {
  const files = fs
    .readdirSync(CHAPTERS_DIR)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .slice(0, n);
  return files.map((f) => `# Chapter: ${f}\n\n${fs.readFileSync(join(CHAPTERS_DIR, f), 'utf8')}`).join('\n\n');
}

/** Every file under `dir` with a hash of its bytes, sorted: a before/after fingerprint of a data dir. */
export function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else
        out.push(
          `${relative(dir, full)} ${createHash('sha256').update(fs.readFileSync(full)).digest('hex').slice(0, 16)}`,
        );
    }
  };
  walk(dir);
  return out.sort();
}

/** Paths of every file under `dir`, relative. */
export function files(dir: string): string[] {
  return listing(dir).map((l) => l.split(' ')[0]!);
}

export interface Connected {
  client: Client;
  session: Session;
  close: () => Promise<void>;
}

/** One fan-out of each pager's events, shared by the sessions the tests connect to it, as a server would. */
const eventsOf = new WeakMap<Pager, PagerEvents>();

/**
 * A real SDK client connected in-process to `createServer(pager)`. `client` may declare capabilities
 * (e.g. sampling) and set request handlers before it connects.
 */
export async function connect(
  pager: Pager,
  name = 'vmem-test',
  ownSession?: Session,
  client: Client = new Client({ name, version: '1.0.0' }),
): Promise<Connected> {
  let events = eventsOf.get(pager);
  if (!events) eventsOf.set(pager, (events = new PagerEvents(pager)));
  const { session, connect: attach, close } = createServer(pager, { events, session: ownSession, clientRoots: true });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([attach(b), client.connect(a)]);
  return {
    client,
    session,
    close: async () => {
      await client.close();
      await close();
    },
  };
}

/** A fresh store with an MCP client on it; everything is closed and removed after the test. */
export async function connectedStore(t: TestContext, flags: Record<string, string> = {}, parts: PagerParts = {}) {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const pager = await openPager(dir, flags, parts);
  defer(() => pager.close());
  const { client, close } = await connect(pager);
  defer(close);
  return { dir, pager, client, defer };
}

export async function openPager(
  dir: string,
  flags: Record<string, string> = {},
  parts: PagerParts = {},
): Promise<Pager> {
  return Pager.open(testConfig(dir, flags), parts);
}

/** Every entry of a paged listing, read 500 at a time after each read's last cursor, as a caller must. */
function readPaged<T extends { cursor: number }>(read: (page: { after: number; limit: number }) => T[]): T[] {
  const out: T[] = [];
  for (;;) {
    const batch = read({ after: out.at(-1)?.cursor ?? 0, limit: 500 });
    if (!batch.length) return out;
    out.push(...batch);
  }
}

/** Every page of a page table, in the order they were recorded. */
export const tablePages = (table: PageTable): PageEntry[] => readPaged((p) => table.pages(p));

/** Every document of a page table, in the order they were recorded. */
export const tableDocuments = (table: PageTable): DocumentEntry[] => readPaged((p) => table.documents(p));

/** The text of a tool result's first content block. */
export function textOf(r: unknown): string {
  const c = (r as CallToolResult).content;
  const first = c[0];
  if (first?.type !== 'text') throw new Error(`no text content in ${JSON.stringify(r).slice(0, 300)}`);
  return first.text;
}

export interface PageOutJson {
  page_id: string;
  source: string;
  ordinal: number;
  tokens: number;
  level: 'L1' | 'L2' | 'L3' | 'L4';
  pinned: boolean;
  lines: [number, number];
  score?: number;
  text?: string;
  sent_seconds_ago?: number;
  reload?: string;
}
export interface HandleJson {
  page_id: string;
  source: string;
  ordinal: number;
  tokens: number;
  gist: string;
  reload: string;
}
export interface PagingJson {
  pages: PageOutJson[];
  evicted: HandleJson[];
  skipped: HandleJson[];
  l1: { used_tokens: number; budget_tokens: number; pages: number };
  query?: string;
  snapshot_id?: string;
}

/** Calls a tool, asserting it did not fail, and returns its structured content. */
export async function call<T = PagingJson>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<{ s: T; text: string; raw: CallToolResult }> {
  const raw = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (raw.isError) throw new Error(`${name} failed: ${textOf(raw)}`);
  return { s: raw.structuredContent as T, text: textOf(raw), raw };
}

/** Calls a tool expecting a tool error; returns its message. */
export async function callErr(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const raw = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (!raw.isError) throw new Error(`${name} was expected to fail but returned: ${textOf(raw).slice(0, 300)}`);
  return textOf(raw);
}

export async function readText(client: Client, uri: string): Promise<string> {
  const r = await client.readResource({ uri });
  const c = r.contents[0] as { text?: string } | undefined;
  if (c?.text === undefined) throw new Error(`resource ${uri} has no text`);
  return c.text;
}

/** A document as the page table lists it. */
export interface DocumentJson {
  id: string;
  source: string;
  pages: number;
  tokens: number;
  uri: string;
}
/** A page as a document's resource lists it. */
export interface PageEntryJson {
  id: string;
  ordinal: number;
  tokens: number;
  sha256: string;
  levels: string[];
  pinned: boolean;
  access_count: number;
  fault_count: number;
  last_access: string | null;
  gist: string;
  summary: { tokens: number; by: string } | null;
}

/** Reads a listing resource and every `next` after it, in order. */
async function readAll<T>(client: Client, uri: string, key: string): Promise<T[]> {
  const out: T[] = [];
  for (let next: string | null = uri; next; ) {
    const body = JSON.parse(await readText(client, next)) as Record<string, unknown> & { next: string | null };
    out.push(...(body[key] as T[]));
    next = body.next;
  }
  return out;
}

/** Every document of the page table, through its bounded reads. */
export const allDocuments = (client: Client) => readAll<DocumentJson>(client, 'vmem://page-table', 'documents');

/** A document's pages in order, through its bounded reads. */
export const documentPages = (client: Client, documentId: string) =>
  readAll<PageEntryJson>(client, `vmem://documents/${documentId}`, 'pages');

/** Every page of the store once (a page shared by documents is listed under each), by id. */
export async function allPages(client: Client): Promise<Map<string, PageEntryJson>> {
  const pages = new Map<string, PageEntryJson>();
  for (const d of await allDocuments(client)) for (const p of await documentPages(client, d.id)) pages.set(p.id, p);
  return pages;
}

/** Page ids in L1 order (least recently used first), parsed from the vmem://l1 resource. */
export function l1Ids(l1Text: string): string[] {
  return [...l1Text.matchAll(/^## (p[0-9a-f]{20}) ·/gm)].map((m) => m[1]!);
}
