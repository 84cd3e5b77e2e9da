import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Plan,
  type PlanEntry,
  type PlanRequest,
  type PlanResident,
  planAdmission,
} from '../src/core/admission.ts';

/** A resident: `id:tokens`, with `p` pinned, `s` a summary, `v` still seen by the model. */
function resident(spec: string): PlanResident {
  const [id, tokens, flags = ''] = spec.split(':');
  return {
    pageId: id!,
    tokens: Number(tokens),
    pinned: flags.includes('p'),
    resolution: flags.includes('s') ? 'summary' : 'full',
    seen: flags.includes('v'),
  };
}

/** An entry: `id:tokens` or `id:tokens/summaryTokens`, `=full` or `=summary` for a fixed resolution. */
function entry(spec: string): PlanEntry {
  const [head, fixed] = spec.split('=');
  const [id, sizes] = head!.split(':');
  const [tokens, summary] = sizes!.split('/');
  return {
    id: id!,
    tokens: Number(tokens),
    ...(summary ? { summaryTokens: Number(summary) } : {}),
    ...(fixed ? { fixed: fixed as 'full' | 'summary' } : {}),
  };
}

/** A plan in short: steps as `+id(full|summary)`, `+id~` (replacing its summary), `=id` (kept, text resent), `.id` (kept, text left out). */
function short(plan: Plan): { steps: string[]; evict: string[]; skip: string[] } {
  return {
    steps: plan.steps.map((s) =>
      s.kind === 'admit' ? `+${s.id}(${s.resolution})${s.replaces ? '~' : ''}` : `${s.resend ? '=' : '.'}${s.id}`,
    ),
    evict: plan.evict,
    skip: plan.skip,
  };
}

interface Case {
  name: string;
  residents?: string[];
  entries: string[];
  budget?: number;
  maxTokens?: number;
  resolution?: PlanRequest['resolution'];
  resend?: boolean;
  want: { steps: string[]; evict?: string[]; skip?: string[] };
}

const CASES: Case[] = [
  {
    name: 'an empty L1 admits every page that fits, worst first so the best ends most recently used',
    entries: ['a:30', 'b:30'],
    want: { steps: ['+b(full)', '+a(full)'] },
  },
  {
    name: 'room is made by evicting the least recently used residents, as many as needed',
    residents: ['x:40', 'y:40', 'z:10'],
    entries: ['a:50'],
    want: { steps: ['+a(full)'], evict: ['x'] },
  },
  {
    name: 'a big page evicts several residents, oldest first',
    residents: ['x:40', 'y:40', 'z:10'],
    entries: ['a:90'],
    want: { steps: ['+a(full)'], evict: ['x', 'y'] },
  },
  {
    name: 'pinned residents are never evicted; a page that only fits without them is skipped',
    residents: ['x:60:p', 'y:20'],
    entries: ['a:50', 'b:30'],
    want: { steps: ['+b(full)'], evict: ['y'], skip: ['a'] },
  },
  {
    name: 'pages asked for are never evicted, even when least recently used',
    residents: ['b:40:v', 'x:40'],
    entries: ['a:50', 'b:40'],
    want: { steps: ['.b', '+a(full)'], evict: ['x'] },
  },
  {
    name: "a page past the call's max_tokens is skipped; a smaller one after it still fits",
    entries: ['a:60', 'b:50', 'c:30'],
    maxTokens: 100,
    want: { steps: ['+c(full)', '+a(full)'], skip: ['b'] },
  },
  {
    name: 'auto admits the summary when only the summary fits',
    entries: ['a:60/6', 'b:60/6'],
    maxTokens: 100,
    want: { steps: ['+b(summary)', '+a(full)'] },
  },
  {
    name: 'full never falls back to a summary',
    entries: ['a:60/6', 'b:60/6'],
    maxTokens: 100,
    resolution: 'full',
    want: { steps: ['+a(full)'], skip: ['b'] },
  },
  {
    name: 'summary prefers summaries, and takes a page without one in full',
    entries: ['a:60/6', 'b:30'],
    resolution: 'summary',
    want: { steps: ['+b(full)', '+a(summary)'] },
  },
  {
    name: 'full replaces a resident summary by its page: not an eviction',
    residents: ['a:6:s', 'x:50'],
    entries: ['a:60/6'],
    resolution: 'full',
    want: { steps: ['+a(full)~'], evict: ['x'] },
  },
  {
    name: 'a resident summary whose page does not fit stays, served from L1, and the page is skipped',
    residents: ['a:6:sv', 'x:90:p'],
    entries: ['a:60/6'],
    resolution: 'full',
    want: { steps: ['.a'], skip: ['a'] },
  },
  {
    name: 'auto keeps a resident summary as it is',
    residents: ['a:6:s'],
    entries: ['a:60/6'],
    want: { steps: ['=a'] },
  },
  {
    name: 'a resident the model still sees is served without its text; one it may not see is resent',
    residents: ['a:30:v', 'b:30'],
    entries: ['a:30', 'b:30'],
    want: { steps: ['=b', '.a'] },
  },
  {
    name: 'resend sends every resident again, within the call room',
    residents: ['a:30:v', 'b:30:v'],
    entries: ['a:30', 'b:30'],
    maxTokens: 50,
    resend: true,
    want: { steps: ['.b', '=a'] },
  },
  {
    name: 'fixed resolutions (a snapshot): the first entries that fit, each as it was, the rest skipped',
    entries: ['c:60/6=summary', 'b:60=full', 'a:50=full'],
    want: { steps: ['+b(full)', '+c(summary)'], skip: ['a'] },
  },
  {
    name: 'nothing asked for, nothing changes',
    residents: ['x:40'],
    entries: [],
    want: { steps: [] },
  },
];

describe('admission planner', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const plan = planAdmission({
        residents: (c.residents ?? []).map(resident),
        entries: c.entries.map(entry),
        budget: c.budget ?? 100,
        maxTokens: c.maxTokens ?? c.budget ?? 100,
        resolution: c.resolution ?? 'auto',
        resend: c.resend ?? false,
      });
      assert.deepEqual(short(plan), { evict: [], skip: [], ...c.want });
    });
  }

  test('never plans past the budget, never evicts a pinned page or one asked for', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let run = 0; run < 500; run++) {
      const budget = 50 + rand(200);
      const residents: PlanResident[] = [];
      let used = 0;
      for (let i = 0; i < rand(6); i++) {
        const tokens = 1 + rand(60);
        if (used + tokens > budget) break;
        used += tokens;
        residents.push({ pageId: `r${i}`, tokens, pinned: rand(4) === 0, resolution: 'full', seen: rand(2) === 0 });
      }
      const entries: PlanEntry[] = [];
      for (let i = 0; i < rand(5); i++) {
        const id = rand(3) === 0 && residents.length ? residents[rand(residents.length)]!.pageId : `e${i}`;
        if (entries.some((e) => e.id === id)) continue;
        const tokens = residents.find((r) => r.pageId === id)?.tokens ?? 1 + rand(120);
        entries.push({ id, tokens, ...(rand(2) ? { summaryTokens: 1 + Math.floor(tokens / 10) } : {}) });
      }
      const maxTokens = 1 + rand(budget);
      const resolution = (['auto', 'full', 'summary'] as const)[rand(3)]!;
      const plan = planAdmission({ residents, entries, budget, maxTokens, resolution, resend: rand(2) === 0 });
      const protectedIds = new Set([
        ...residents.filter((r) => r.pinned).map((r) => r.pageId),
        ...entries.map((e) => e.id),
      ]);
      for (const id of plan.evict) assert.ok(!protectedIds.has(id), `evicts ${id}`);
      const admitted = plan.steps.filter((s) => s.kind === 'admit');
      const after =
        used -
        residents.filter((r) => plan.evict.includes(r.pageId)).reduce((n, r) => n + r.tokens, 0) -
        admitted.filter((s) => s.replaces).reduce((n, s) => n + residents.find((r) => r.pageId === s.id)!.tokens, 0) +
        admitted.reduce((n, s) => n + s.tokens, 0);
      assert.ok(after <= budget, `${after} tokens in a budget of ${budget}`);
      const sent = admitted.reduce((n, s) => n + s.tokens, 0);
      assert.ok(sent <= maxTokens, `${sent} tokens sent past max_tokens ${maxTokens}`);
    }
  });
});
