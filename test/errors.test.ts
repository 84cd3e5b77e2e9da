/**
 * Every error has an audience (errors.ts), and the tool results and the CLI answer by it: the caller's
 * mistakes as invalid input, the operator's problems and vmem's own as not the caller's fault.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  audienceOf,
  CompressionError,
  ConfigError,
  CorruptPageError,
  EmbedderMismatchError,
  InputError,
  InternalError,
  MissingPageError,
} from '../src/errors.ts';
import { checkExposure } from '../src/http.ts';
import { guard } from '../src/mcp/format.ts';
import { textOf } from './helpers.ts';

describe('errors', () => {
  test("each error class has its audience; anything else is vmem's own", () => {
    const cases: [unknown, string][] = [
      [new InputError('query', 'is empty'), 'caller'],
      [new ConfigError('bad flag'), 'operator'],
      [new EmbedderMismatchError('reindex'), 'operator'],
      [new CorruptPageError('page p1'), 'operator'],
      [new MissingPageError('page p1'), 'operator'],
      [new CompressionError('timeout'), 'vmem'],
      [new InternalError('bug'), 'vmem'],
      [new TypeError('x is undefined'), 'vmem'],
      ['a string', 'vmem'],
    ];
    for (const [err, audience] of cases) assert.equal(audienceOf(err), audience, String(err));
  });

  test('a tool result answers by audience', async (t) => {
    t.mock.method(console, 'error', () => {});
    const result = (err: Error) =>
      guard(async () => {
        throw err;
      });
    const caller = await result(new InputError('query', 'is empty'));
    assert.equal(caller.isError, true);
    assert.equal(textOf(caller), 'Invalid input: query: is empty');
    const operator = await result(new MissingPageError('page p1 is not stored in L4; re-ingest its source'));
    assert.match(textOf(operator), /^vmem's store needs its operator \(not caused by your input\): page p1/);
    const ours = await result(new InternalError('serialize built a snapshot its schema refuses'));
    assert.match(textOf(ours), /^Internal error in vmem \(not caused by your input\): serialize/);
    assert.doesNotMatch(textOf(ours), /note/);
  });

  test('serving beyond loopback without a token is refused by one check, as a ConfigError', () => {
    assert.throws(() => checkExposure('0.0.0.0', undefined), ConfigError);
    assert.throws(() => checkExposure('0.0.0.0', undefined), /needs a bearer token/);
    checkExposure('127.0.0.1', undefined);
    checkExposure('0.0.0.0', 'secret');
  });
});
