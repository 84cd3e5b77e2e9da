/**
 * The paging contract with the host's own context: a tool result never leaves the model without a page
 * it asked for, unless that same result names the one call that brings it back. vmem cannot see the
 * host's context, so a resident page's text is left out only while the model can be assumed to see it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { L1, type ResendPolicy } from '../src/core/l1.ts';
import { call, connectedStore, demoDoc, factRe, fakeClock, type PagingJson } from './helpers.ts';

const policy: ResendPolicy = { maxAgeMs: 60_000, maxTokensSince: 100, maxOmissions: 1 };
const page = (id: string, tokens: number) => ({
  pageId: id,
  tokens,
  pinned: false,
  resolution: 'full' as const,
  text: id,
});

describe('L1: what the model can be assumed to see', () => {
  test('a page is seen after its text was sent, until it is too old, too much text came after it, or it was left out once', () => {
    const l1 = new L1(1000);
    l1.admit(page('a', 40));
    assert.equal(l1.seen('a', 0, policy), false, 'admitted but never sent: not seen');
    l1.markSent('a', 0);
    assert.equal(l1.seen('a', 59_999, policy), true);
    assert.equal(l1.seen('a', 60_000, policy), false, 'as old as maxAgeMs');

    l1.admit(page('b', 60));
    l1.markSent('b', 0);
    l1.admit(page('c', 40));
    l1.markSent('c', 0);
    assert.equal(l1.sentTokens, 140);
    assert.equal(l1.seen('a', 0, policy), false, '100 tokens were sent after a');
    assert.equal(l1.seen('b', 0, policy), true, 'only 40 after b');

    l1.markOmitted('b');
    assert.equal(l1.seen('b', 0, policy), false, 'left out once: the next ask sends it');
    l1.markSent('b', 1);
    assert.equal(l1.seen('b', 1, policy), true, 'sending it again starts over');
  });
});

describe('page_fault and the host context', () => {
  async function setup(t: import('node:test').TestContext, flags: Record<string, string> = {}) {
    const clock = fakeClock();
    const { pager, client } = await connectedStore(
      t,
      { '--page-tokens': '500', '--l1-tokens': '4000', ...flags },
      { now: clock.now },
    );
    await pager.ingest([{ source: 'manual.md', text: demoDoc() }]);
    const fault = async (station: string, year: number, extra: Record<string, unknown> = {}) => {
      const r = await call<PagingJson>(client, 'page_fault', {
        query: `maintenance code for pump station ${station} in ${year}`,
        max_pages: 1,
        // Only the pages' text is at stake here: the candidates' lines (test/candidates.test.ts) would blur the sizes.
        candidates: 0,
        ...extra,
      });
      assert.equal(r.s.pages.length, 1);
      return { ...r, page: r.s.pages[0]! };
    };
    return { client, clock, fault };
  }

  test('a re-fault soon after leaves the text out once, naming load_page; asked again, it sends the text', async (t) => {
    const { client, clock, fault } = await setup(t);
    const first = await fault('Kestrel', 2003);
    assert.match(first.page.text!, factRe('Kestrel', 2003));

    clock.advance(30_000);
    const again = await fault('Kestrel', 2003);
    assert.equal(again.page.page_id, first.page.page_id);
    assert.equal(again.page.text, undefined, 'sent 30 s ago: not repeated');
    assert.equal(again.page.sent_seconds_ago, 30);
    const reload = `load_page {"page_ids":["${first.page.page_id}"]}`;
    assert.equal(again.page.reload, reload);
    assert.ok(
      again.text.includes(`text sent to you 30 s ago, not repeated; if you do not see it: ${reload}`),
      again.text,
    );
    assert.ok(again.text.length < first.text.length / 4, 'the result without the text is small');

    // The named call brings the text in one step.
    const loaded = await call<PagingJson>(client, 'load_page', { page_ids: [first.page.page_id] });
    assert.equal(loaded.s.pages[0]!.text, first.page.text);

    // A model that asks again for what it was told it holds probably does not see it.
    const third = await fault('Kestrel', 2003);
    assert.equal(third.page.text, undefined, 'load_page just sent it');
    const fourth = await fault('Kestrel', 2003);
    assert.equal(fourth.page.text, first.page.text, 'left out once since it was last sent: sent again');
  });

  test('resend: true sends resident pages; a new conversation later gets the text without asking', async (t) => {
    const { clock, fault } = await setup(t);
    const first = await fault('Osprey', 1987);
    const resent = await fault('Osprey', 1987, { resend: true });
    assert.equal(resent.page.text, first.page.text);
    assert.equal(resent.page.level, 'L1');
    assert.equal(resent.s.l1.used_tokens, first.s.l1.used_tokens, 'resending costs the result, not L1');

    clock.advance(600_000); // VMEM_RESEND_AFTER (600 s): a new conversation, as far as vmem can tell
    const later = await fault('Osprey', 1987);
    assert.equal(later.page.text, first.page.text);
  });

  test('once an L1 budget of other text was sent after a page, it is sent again', async (t) => {
    const { client, fault } = await setup(t);
    // Two pages that stay resident (pinned), both just sent.
    const a = await fault('Linnet', 2004);
    const b = await fault('Curlew', 1955);
    await call(client, 'load_page', { page_ids: [a.page.page_id, b.page.page_id], pin: true });
    const sendOthers = async (until: number, from: number) => {
      let sent = from;
      for (let year = 1950; sent < until; year++) {
        const r = await fault('Heron', year);
        if (r.page.text !== undefined && r.page.page_id !== a.page.page_id && r.page.page_id !== b.page.page_id)
          sent += r.page.tokens;
      }
      return sent;
    };
    const sent = await sendOthers(3000, 0);
    assert.ok(sent < 4000, `fixture: ${sent} tokens sent after them, under the 4000-token budget`);
    assert.equal((await fault('Linnet', 2004)).page.text, undefined, 'under an L1 budget of text since: still seen');
    await sendOthers(4000, sent);
    assert.equal((await fault('Curlew', 1955)).page.text, b.page.text, 'an L1 budget of text since: sent again');
  });

  test('VMEM_RESEND_AFTER=0 sends every page every time, and the instructions say so', async (t) => {
    const { client, fault } = await setup(t, { '--resend-after': '0' });
    const first = await fault('Curlew', 1955);
    const again = await fault('Curlew', 1955);
    assert.equal(again.page.text, first.page.text);
    assert.match(client.getInstructions()!, /sends the text of every page you fault/);
  });

  test('the instructions say what L1 can and cannot know', async (t) => {
    const { client } = await setup(t);
    const text = client.getInstructions()!;
    assert.match(text, /vmem cannot see your context/);
    assert.match(text, /10 minutes/);
    assert.match(text, /resend: true/);
  });
});
