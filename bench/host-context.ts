/**
 * The paging contract measured on a scripted host: what a model ends up seeing when vmem leaves the
 * text of resident pages out of a result, under each resend policy. A host keeps tool results in its
 * context and may lose them (a new conversation on the same connection, a compaction); vmem cannot
 * see which. Run alone with `node --import tsx bench/host-context.ts`, or as part of `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig, SETTINGS } from '../src/config.js';
import type { ResendPolicy } from '../src/core/l1.js';
import { tokenizer } from '../src/core/tokenizer.js';
import { demoDocument } from '../src/demo.js';
import { PagerEvents } from '../src/mcp/pager-events.js';
import { createServer } from '../src/mcp/server.js';
import { defaultResendPolicy, Pager } from '../src/pager.js';

const BUDGET = 16_000;
const CALL_GAP_MS = 30_000;
/** Facts of the demo manual, each answered by one page. */
const QUESTIONS: [station: string, year: number][] = [
  ['Kestrel', 1961],
  ['Osprey', 1987],
  ['Linnet', 2004],
  ['Curlew', 1955],
];
const question = ([station, year]: [string, number]) => `maintenance code for pump station ${station} in ${year}`;

/** A step of a script: a fault, or something the host does to its own context. */
type Step = { ask: number } | { newConversation: number } | { compact: true };

interface Scenario {
  name: string;
  steps: Step[];
}

const asks = (order: number[]): Step[] => order.map((ask) => ({ ask }));
const SCENARIOS: Scenario[] = [
  { name: '(a) one conversation re-faulting what it holds', steps: asks([0, 1, 2, 3, 0, 1, 2, 3]) },
  {
    name: '(b) a new conversation on the same connection, 30 min later',
    steps: [...asks([0, 1, 2, 3]), { newConversation: 30 * 60_000 }, ...asks([0, 1, 2, 3])],
  },
  {
    name: '(b′) a new conversation on the same connection, 2 min later',
    steps: [...asks([0, 1, 2, 3]), { newConversation: 2 * 60_000 }, ...asks([0, 1, 2, 3])],
  },
  {
    name: '(c) the host dropped its earlier tool results (compaction), then re-faults',
    steps: [...asks([0, 1, 2, 3]), { compact: true }, ...asks([0, 1, 2, 3, 0, 1])],
  },
];

const NEVER = Number.POSITIVE_INFINITY;
export const POLICIES: { name: string; policy: (budget: number) => ResendPolicy }[] = [
  { name: 'never resend (before)', policy: () => ({ maxAgeMs: NEVER, maxTokensSince: NEVER, maxOmissions: NEVER }) },
  { name: 'always resend', policy: () => ({ maxAgeMs: 0, maxTokensSince: 0, maxOmissions: 0 }) },
  {
    name: 'recent: 10 min, L1 budget of text since',
    policy: (budget) => ({ maxAgeMs: 600_000, maxTokensSince: budget, maxOmissions: NEVER }),
  },
  {
    name: 'recent + resend on the second ask (default)',
    policy: (budget) =>
      defaultResendPolicy({ resendAfterSeconds: Number(SETTINGS.resendAfterSeconds.default({})), l1Tokens: budget }),
  },
];

/**
 * What the scripted model does when a fault's result names a page whose text it cannot see: nothing,
 * the load_page call the entry names, or the same page_fault again.
 */
export const MODELS = ['ignores it', 'calls the named load_page', 'asks page_fault again'] as const;
export type Model = (typeof MODELS)[number];

export interface HostRun {
  /** Tokens (o200k_base) of every tool result the host put in context. */
  tokens: number;
  /** Tool calls made, faults and retries. */
  calls: number;
  /** Pages a fault returned whose text the model still could not see once it had done what it does. */
  without: number;
}

export interface HostRow {
  scenario: string;
  policy: string;
  runs: Record<Model, HostRun>;
}

interface PageJson {
  page_id: string;
  text?: string;
}

async function run(
  dir: string,
  scenario: Scenario,
  policy: ResendPolicy,
  model: Model,
  pageText: Map<string, string>,
): Promise<HostRun> {
  let now = 1_700_000_000_000;
  const enc = tokenizer('o200k_base');
  const pager = await Pager.open(loadConfig({ '--data-dir': dir, '--l1-tokens': String(BUDGET) }, {}), {
    now: () => now,
    resend: policy,
  });
  const server = createServer(pager, { events: new PagerEvents(pager), clientRoots: false });
  const client = new Client({ name: 'scripted-host', version: '1' });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(b), client.connect(a)]);
  /** The tool results the host's context holds now. */
  let context: string[] = [];
  let tokens = 0;
  let calls = 0;
  let without = 0;
  const call = async (name: string, args: Record<string, unknown>) => {
    const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
    const text = (r.content[0] as { text: string }).text;
    context.push(text);
    tokens += enc.count(text);
    calls++;
    return (r.structuredContent as { pages: PageJson[] }).pages;
  };
  const unseen = (pages: PageJson[]) => pages.filter((p) => !context.some((c) => c.includes(pageText.get(p.page_id)!)));
  try {
    for (const step of scenario.steps) {
      if ('newConversation' in step) {
        context = [];
        now += step.newConversation;
        continue;
      }
      if ('compact' in step) {
        context = [];
        continue;
      }
      now += CALL_GAP_MS;
      const fault = { query: question(QUESTIONS[step.ask]!), max_pages: 2 };
      const pages = await call('page_fault', fault);
      let missing = unseen(pages);
      if (missing.length && model === 'calls the named load_page') {
        await call('load_page', { page_ids: missing.map((p) => p.page_id) });
        missing = unseen(missing);
      } else if (missing.length && model === 'asks page_fault again') {
        await call('page_fault', fault);
        missing = unseen(missing);
      }
      without += missing.length;
    }
  } finally {
    await client.close();
    await server.close();
    await pager.close();
  }
  return { tokens, calls, without };
}

/** Every scenario under every policy, on the demo manual in 2000-token pages with a 16k L1. */
export async function benchHostContext(): Promise<HostRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vmem-bench-host-'));
  try {
    const pager = await Pager.open(loadConfig({ '--data-dir': dir }, {}));
    await pager.ingest([{ source: 'operations-manual.md', text: demoDocument() }]);
    const pages = pager.table.pages({ limit: pager.table.pageCount });
    const texts = await pager.l4.getPages(pages.map((p) => p.id));
    const pageText = new Map(pages.map((p, i) => [p.id, texts[i]!.text]));
    await pager.close();
    const rows: HostRow[] = [];
    for (const scenario of SCENARIOS) {
      for (const { name, policy } of POLICIES) {
        const runs = {} as Record<Model, HostRun>;
        for (const model of MODELS) runs[model] = await run(dir, scenario, policy(BUDGET), model, pageText);
        rows.push({ scenario: scenario.name, policy: name, runs });
      }
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await benchHostContext())
    console.log(
      r.scenario,
      '|',
      r.policy,
      '|',
      MODELS.map((m) => `${r.runs[m].tokens} tok ${r.runs[m].calls} calls ${r.runs[m].without} without`).join(' | '),
    );
}
