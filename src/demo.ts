import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from './config.js';
import { PagerEvents } from './mcp/pager-events.js';
import { createServer } from './mcp/server.js';
import { Pager } from './pager.js';

const STATIONS = [
  'Kestrel',
  'Heron',
  'Osprey',
  'Plover',
  'Curlew',
  'Merlin',
  'Dunlin',
  'Avocet',
  'Godwit',
  'Shrike',
  'Linnet',
  'Siskin',
];
const FILLER = [
  'Crews rotate every fourteen days and hand over with a written log.',
  'Inspections follow the checklist in the appendix and are countersigned by the shift lead.',
  'Spare parts are ordered through the regional depot and tracked by serial number.',
  'Pressure readings are taken at dawn and dusk and compared with the seasonal baseline.',
  'Any deviation above five percent is escalated to the duty engineer within the hour.',
  'Access roads are cleared of debris after every storm warning.',
];

/**
 * A deterministic operations manual of about 220k tokens: one section per station and year, each with
 * one unique fact, so a question has exactly one page that answers it.
 */
export function demoDocument(): string {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const sections: string[] = ['# Northern Waterworks Operations Manual\n'];
  for (let year = 1950; year < 2030; year++) {
    for (const station of STATIONS) {
      const code = 1000 + Math.floor(rand() * 9000);
      const body = Array.from({ length: 14 }, () => FILLER[Math.floor(rand() * FILLER.length)]).join(' ');
      sections.push(
        `## ${station} station, ${year}\n\nIn ${year} the maintenance code for pump station ${station} was ${code}. ${body}\n`,
      );
    }
  }
  return sections.join('\n');
}

function show(title: string, result: unknown, fact?: RegExp): void {
  const r = result as CallToolResult;
  const s = r.structuredContent as
    | {
        pages?: { page_id: string; level: string; tokens: number; source: string; ordinal: number }[];
        evicted?: unknown[];
        l1?: { used_tokens: number; budget_tokens: number };
      }
    | undefined;
  console.log(`\n▶ ${title}`);
  if (r.isError) {
    console.log(`  error: ${(r.content[0] as { text: string }).text}`);
    return;
  }
  for (const p of s?.pages ?? []) {
    const what = (p as { resolution?: string }).resolution === 'summary' ? 'summary of' : '';
    console.log(
      `  ${p.page_id}  ${what ? `${what} ` : ''}${p.source} #${p.ordinal}  ${p.tokens} tokens  served from ${p.level}`,
    );
  }
  const found = fact && s?.pages?.map((p) => (p as { text?: string }).text?.match(fact)?.[0]).find(Boolean);
  if (fact)
    console.log(found ? `  the page says: "${found}"` : '  (the answer is already in context from the earlier fault)');
  if (s?.evicted?.length) console.log(`  evicted ${s.evicted.length} page(s), each left a handle`);
  if (s?.l1) console.log(`  L1 ${s.l1.used_tokens}/${s.l1.budget_tokens} tokens`);
}

/** Runs an MCP client against an in-process vmem server and narrates what moves between levels. */
export async function runDemo(flags: Record<string, string>): Promise<void> {
  const own = !flags['--data-dir'] && !process.env.VMEM_DATA_DIR;
  const dataDir = own ? await mkdtemp(join(tmpdir(), 'vmem-demo-')) : undefined;
  const config = loadConfig(dataDir ? { ...flags, '--data-dir': dataDir } : flags);
  const pager = await Pager.open(config);
  const events = new PagerEvents(pager);
  const connect = async () => {
    const server = createServer(pager, { events, clientRoots: false });
    const [a, b] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: 'vmem-demo', version: '1' });
    await Promise.all([server.connect(b), client.connect(a)]);
    return client;
  };
  try {
    console.log(
      `vmem demo — data dir ${config.dataDir}, pages of ${config.pageTokens} tokens, L1 budget ${config.l1Tokens} tokens`,
    );
    const agentA = await connect();
    const ingest = (await agentA.callTool({
      name: 'ingest',
      arguments: { text: demoDocument(), source: 'operations-manual.md' },
    })) as CallToolResult;
    console.log(`\n▶ ingest operations-manual.md\n  ${(ingest.content[0] as { text: string }).text.split('\n')[0]}`);
    const q = 'What was the maintenance code for pump station Kestrel in 2003?';
    const fact = (station: string, year: number) =>
      new RegExp(`In ${year} the maintenance code for pump station ${station} was \\d+`);
    show(
      `page_fault "${q}" (first time: found by L3, served from L4)`,
      await agentA.callTool({ name: 'page_fault', arguments: { query: q, max_pages: 1 } }),
      fact('Kestrel', 2003),
    );
    show(
      'the same fault again (now resident: an L1 hit)',
      await agentA.callTool({ name: 'page_fault', arguments: { query: q, max_pages: 1 } }),
    );
    for (const [station, year] of [
      ['Osprey', 2011],
      ['Merlin', 1995],
      ['Siskin', 2024],
      ['Godwit', 1999],
      ['Heron', 2017],
      ['Linnet', 2008],
      ['Avocet', 1992],
      ['Curlew', 2021],
      ['Plover', 2014],
    ] as const) {
      show(
        `page_fault "maintenance code for ${station} in ${year}"`,
        await agentA.callTool({
          name: 'page_fault',
          arguments: { query: `maintenance code for pump station ${station} in ${year}`, max_pages: 1 },
        }),
        fact(station, year),
      );
    }
    const snap = (await agentA.callTool({
      name: 'serialize_context',
      arguments: { note: 'maintenance codes so far' },
    })) as CallToolResult;
    const s = snap.structuredContent as { snapshot_id: string; snapshot_bytes: number; page_tokens: number };
    console.log(
      `\n▶ serialize_context\n  ${s.snapshot_id}: ${s.snapshot_bytes} bytes of pointers for ${s.page_tokens} tokens of pages`,
    );
    const agentB = await connect();
    show(
      `a second agent: restore_context ${s.snapshot_id} (served from L2, warmed by agent A)`,
      await agentB.callTool({ name: 'restore_context', arguments: { snapshot_id: s.snapshot_id } }),
    );
    // Every page agent A evicted is summarized in the background (extractive, offline): their gist fits where one page would.
    const evicted = (await agentA.callTool({ name: 'evict', arguments: { all: true } })) as CallToolResult;
    await pager.summarizer.idle();
    const summarized = (evicted.structuredContent as { evicted: { page_id: string }[] }).evicted
      .map((h) => h.page_id)
      .filter((id) => pager.table.get(id)?.summary);
    show(
      `agent A, after evict all: load_page of the ${summarized.length} pages it evicted, at resolution "summary"`,
      await agentA.callTool({ name: 'load_page', arguments: { page_ids: summarized, resolution: 'summary' } }),
    );
    await agentA.close();
    await agentB.close();
  } finally {
    events.close();
    await pager.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}
