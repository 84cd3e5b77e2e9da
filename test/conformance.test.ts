/**
 * The official MCP conformance suite against `vmem serve --http`, through scripts/conformance.sh
 * (which fetches the suite and a Node 22 binary from the npm registry once, into .cache/conformance, when
 * downloads are allowed: see support/fetch.ts). Without them, or without the registry, the test is skipped
 * with the reason, except in CI, where it fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from './helpers.ts';
import { fetchEnv, NOT_FETCHED, notFetched } from './support/fetch.ts';

test('MCP conformance suite: every applicable server scenario passes', { timeout: 600_000 }, (t) => {
  const r = spawnSync('bash', [join(REPO, 'scripts', 'conformance.sh')], {
    encoding: 'utf8',
    timeout: 590_000,
    env: fetchEnv(),
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status === NOT_FETCHED) return t.skip(notFetched(out));
  const passed = [...out.matchAll(/conformance: (\S+) passed/g)].map((m) => m[1]);
  if (r.status !== 0 && !passed.length && /npm (error|ERR)/.test(out) && process.env.CI !== 'true') {
    return t.skip(
      `the conformance suite could not be installed from the npm registry: ${out.split('\n').find((l) => /npm (error|ERR)/.test(l))}`,
    );
  }
  assert.equal(r.status, 0, out.slice(-4000));
  console.log(`# conformance scenarios passed: ${passed.join(', ')}`);
  assert.ok(passed.length >= 9, out);
});
