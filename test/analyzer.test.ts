import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyze, analyzeQuery } from '../src/embed/analyzer.ts';

test('a query loses the words that only frame it, a document keeps them', () => {
  const q = 'Summarize the discussion about the remote control buttons: what did the manager think and say?';
  assert.deepEqual(analyzeQuery(q), analyze('remote control buttons manager'));
  const doc = 'I think we should discuss the buttons.';
  assert.deepEqual(analyze(doc), ['think', 'discuss', 'button']);
});

test('a query of framing words alone keeps them rather than asking for nothing', () => {
  assert.deepEqual(analyzeQuery('What did they discuss and say?'), analyze('discuss say'));
  assert.ok(analyzeQuery('What did they discuss and say?').length > 0);
});
