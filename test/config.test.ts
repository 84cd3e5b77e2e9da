import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Config, loadConfig, SETTINGS, s3Location } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';
import { REPO, tempDir } from './helpers.ts';

/** Asserts loadConfig throws a ConfigError whose message names the setting, its env var and its flag. */
function assertNames(fn: () => unknown, key: keyof Config, extra?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.ok(err.message.includes(key), `message does not name ${key}: ${err.message}`);
    assert.ok(err.message.includes(SETTINGS[key].env), `message does not name ${SETTINGS[key].env}: ${err.message}`);
    assert.ok(err.message.includes(SETTINGS[key].flag), `message does not name ${SETTINGS[key].flag}: ${err.message}`);
    if (extra) assert.match(err.message, extra);
    return true;
  });
}

describe('config', () => {
  let tmp: ReturnType<typeof tempDir>;
  const cwd = process.cwd();
  before(() => {
    tmp = tempDir();
    // Run from a throwaway directory: a default that used the cwd would show up under it.
    process.chdir(tmp.dir);
  });
  after(() => {
    process.chdir(cwd);
    tmp.cleanup();
  });

  test('defaults', () => {
    const c = loadConfig({}, {});
    assert.deepEqual(
      { ...c, dataDir: undefined },
      {
        dataDir: undefined,
        pageTokens: 2000,
        l1Tokens: 16000,
        encoding: 'o200k_base',
        l2TtlSeconds: 3600,
        l2MaxPages: 4096,
        maxIngestBytes: 64 * 1024 * 1024,
        namespace: 'vmem',
        redisUrl: undefined,
        chromaUrl: undefined,
        compressor: 'extractive',
        compressRatio: 10,
        compressConcurrency: 2,
        openaiModel: 'gpt-4o-mini',
        openaiBaseUrl: 'https://api.openai.com/v1',
        embedder: 'lexical',
        embedModel: 'text-embedding-3-small',
        embedBaseUrl: 'https://api.openai.com/v1',
        httpHost: '127.0.0.1',
        httpPort: 7411,
        sessionIdleSeconds: 1800,
        maxSessions: 64,
        allowedHosts: [],
        authTokenFile: undefined,
        resendAfterSeconds: 600,
        ingestRoots: [],
        l4Url: 'file:',
        s3Endpoint: undefined,
        catalogUrl: undefined,
        advertiseUrl: undefined,
        nodeId: undefined,
        watchIgnore: [],
      },
    );
    assert.equal(c.dataDir, join(homedir(), '.local', 'share', 'vmem'));
  });

  test('the default data dir is under XDG_DATA_HOME, else $HOME/.local/share, never the cwd', () => {
    assert.equal(loadConfig({}, { XDG_DATA_HOME: '/xdg/data', HOME: '/home/u' }).dataDir, '/xdg/data/vmem');
    assert.equal(loadConfig({}, { HOME: '/home/u' }).dataDir, '/home/u/.local/share/vmem');
    assert.equal(
      loadConfig({}, { HOME: '/home/u', XDG_DATA_HOME: '' }).dataDir,
      '/home/u/.local/share/vmem',
      'an empty XDG_DATA_HOME is unset',
    );
    for (const env of [{}, { HOME: '/home/u' }, { XDG_DATA_HOME: '/xdg' }]) {
      const dir = loadConfig({}, env).dataDir;
      assert.ok(isAbsolute(dir));
      assert.ok(
        !dir.startsWith(fs.realpathSync(process.cwd())) && !dir.startsWith(process.cwd()),
        `default data dir ${dir} is under the cwd`,
      );
    }
  });

  test('a relative XDG_DATA_HOME is ignored (XDG spec), so the default never lands in the cwd', () => {
    const dir = loadConfig({}, { XDG_DATA_HOME: 'relative/share', HOME: '/home/u' }).dataDir;
    assert.equal(dir, '/home/u/.local/share/vmem');
  });

  test('an explicit relative data dir resolves to an absolute path', () => {
    assert.equal(loadConfig({ '--data-dir': 'store' }, {}).dataDir, join(process.cwd(), 'store'));
    assert.equal(loadConfig({}, { VMEM_DATA_DIR: 'store2' }).dataDir, join(process.cwd(), 'store2'));
  });

  test('every setting reads its env var, and its flag wins over the env var', () => {
    const envValues: Record<keyof Config, string> = {
      dataDir: '/env/dir',
      pageTokens: '300',
      l1Tokens: '5000',
      encoding: 'cl100k_base',
      l2TtlSeconds: '60',
      l2MaxPages: '10',
      maxIngestBytes: '1000',
      namespace: 'env-ns',
      redisUrl: 'redis://env:6379/1',
      chromaUrl: 'http://env:8000',
      compressor: 'openai',
      compressRatio: '8',
      compressConcurrency: '3',
      openaiModel: 'env-model',
      openaiBaseUrl: 'http://env:11434/v1',
      embedder: 'openai',
      embedModel: 'nomic-embed-text',
      embedBaseUrl: 'http://env:11434/v1',
      httpHost: '0.0.0.0',
      httpPort: '8080',
      sessionIdleSeconds: '60',
      maxSessions: '100',
      allowedHosts: 'vmem.internal,10.0.0.5',
      authTokenFile: '/env/token',
      resendAfterSeconds: '0',
      ingestRoots: '/env/docs',
      l4Url: 's3://env-bucket/env/prefix',
      s3Endpoint: 'http://env:9000',
      catalogUrl: 'redis://env-catalog:6379/0',
      advertiseUrl: 'http://10.0.0.5:7411',
      nodeId: 'env-node',
      watchIgnore: '*.log,drafts/',
    };
    const flagValues: Record<keyof Config, string> = {
      dataDir: '/flag/dir',
      pageTokens: '400',
      l1Tokens: '6000',
      encoding: 'o200k_base',
      l2TtlSeconds: '70',
      l2MaxPages: '20',
      maxIngestBytes: '2000',
      namespace: 'flag_ns',
      redisUrl: 'rediss://:secret@flag:6380/2',
      chromaUrl: 'https://chroma.example',
      compressor: 'sampling',
      compressRatio: '12',
      compressConcurrency: '4',
      openaiModel: 'flag-model',
      openaiBaseUrl: 'https://llm.example/v1',
      embedder: 'lexical',
      embedModel: 'text-embedding-3-large',
      embedBaseUrl: 'https://embed.example/v1',
      httpHost: '::1',
      httpPort: '0',
      sessionIdleSeconds: '5',
      maxSessions: '3',
      allowedHosts: 'flag.example',
      authTokenFile: '/flag/token',
      resendAfterSeconds: '120',
      ingestRoots: '/flag/docs',
      l4Url: 's3://flag.bucket',
      s3Endpoint: 'https://flag.example',
      catalogUrl: 'rediss://flag-catalog:6380/2',
      advertiseUrl: 'https://vmem-b.internal',
      nodeId: 'flag_node-2',
      watchIgnore: 'tmp/',
    };
    const env = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [s.env, envValues[k as keyof Config]]));
    const flags = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [s.flag, flagValues[k as keyof Config]]));
    const fromEnv = loadConfig({}, env);
    const fromFlags = loadConfig(flags, env);
    for (const key of Object.keys(SETTINGS) as (keyof Config)[]) {
      assert.equal(String(fromEnv[key]), envValues[key], `${key} from ${SETTINGS[key].env}`);
      assert.equal(
        String(fromFlags[key]),
        flagValues[key],
        `${key}: ${SETTINGS[key].flag} wins over ${SETTINGS[key].env}`,
      );
    }
    // A flag for one setting leaves the others to env.
    const mixed = loadConfig({ '--page-tokens': '500' }, env);
    assert.equal(mixed.pageTokens, 500);
    assert.equal(mixed.l1Tokens, 5000);
  });

  test('bad values fail naming the setting, its env var and flag', () => {
    assertNames(() => loadConfig({}, { VMEM_PAGE_TOKENS: 'abc' }), 'pageTokens', /"abc"/);
    assertNames(() => loadConfig({}, { VMEM_ENCODING: 'foo' }), 'encoding', /o200k_base, cl100k_base/);
    assertNames(() => loadConfig({ '--page-tokens': '4000' }, { VMEM_L1_TOKENS: '3000' }), 'l1Tokens', /pageTokens/);
    assertNames(() => loadConfig({ '--page-tokens': '63' }, {}), 'pageTokens', /at least 64/);
    assertNames(() => loadConfig({ '--page-tokens': '100.5' }, {}), 'pageTokens', /whole number/);
    assertNames(() => loadConfig({}, { VMEM_L2_TTL: '0' }), 'l2TtlSeconds', /at least 1/);
    assertNames(() => loadConfig({}, { VMEM_L2_MAX_PAGES: '-5' }), 'l2MaxPages');
    assertNames(() => loadConfig({}, { VMEM_MAX_INGEST_BYTES: 'lots' }), 'maxIngestBytes');
    assertNames(() => loadConfig({ '--data-dir': '' }, {}), 'dataDir', /empty/);
    assertNames(() => loadConfig({}, { VMEM_CHROMA_URL: 'localhost:8000' }), 'chromaUrl', /http:\/\/localhost:8000/);
    assertNames(() => loadConfig({ '--chroma-url': 'http://host:8000/api/v2' }, {}), 'chromaUrl', /Chroma server/);
    assertNames(() => loadConfig({}, { VMEM_COMPRESSOR: 'gpt' }), 'compressor', /extractive, openai, sampling/);
    assertNames(() => loadConfig({}, { VMEM_EMBEDDER: 'ollama' }), 'embedder', /lexical, openai/);
    assertNames(
      () => loadConfig({}, { VMEM_EMBED_BASE_URL: 'localhost:11434' }),
      'embedBaseUrl',
      /http:\/\/localhost:11434\/v1/,
    );
    assertNames(() => loadConfig({ '--compress-ratio': '1' }, {}), 'compressRatio', /at least 2/);
    assertNames(
      () => loadConfig({}, { VMEM_OPENAI_BASE_URL: 'localhost:11434' }),
      'openaiBaseUrl',
      /http:\/\/localhost:11434\/v1/,
    );
    assertNames(() => loadConfig({ '--l1-tokens': '99999999999' }, {}), 'l1Tokens', /at most/);
    assertNames(() => loadConfig({}, { VMEM_REDIS_URL: 'localhost:6379' }), 'redisUrl', /redis:\/\//);
    assertNames(() => loadConfig({ '--namespace': 'a b' }, {}), 'namespace', /letters, digits/);
    assertNames(() => loadConfig({ '--ingest-roots': 'docs' }, {}), 'ingestRoots', /absolute paths/);
    assertNames(() => loadConfig({ '--resend-after': '-1' }, {}), 'resendAfterSeconds', /whole number/);
    assertNames(() => loadConfig({}, { VMEM_L4_URL: 'http://bucket' }), 'l4Url', /s3:\/\/bucket\[\/prefix\]/);
    assertNames(() => loadConfig({}, { VMEM_L4_URL: 's3://Upper_Case' }), 'l4Url', /file:/);
    assertNames(
      () => loadConfig({}, { VMEM_L4_URL: 's3://bkt/prefix', VMEM_S3_ENDPOINT: 'minio:9000' }),
      's3Endpoint',
      /http:\/\/localhost:9000/,
    );
    assertNames(() => loadConfig({}, { VMEM_S3_ENDPOINT: 'http://minio:9000' }), 's3Endpoint', /VMEM_L4_URL/);
  });

  test('an s3:// L4 URL names a bucket and a key prefix; file: names the data dir', () => {
    assert.equal(s3Location(loadConfig({}, {})), undefined);
    assert.deepEqual(s3Location(loadConfig({}, { VMEM_L4_URL: 's3://pages' })), { bucket: 'pages', prefix: '' });
    assert.deepEqual(s3Location(loadConfig({ '--l4-url': 's3://my.pages/team-a/vmem/' }, {})), {
      bucket: 'my.pages',
      prefix: 'team-a/vmem',
    });
  });

  test('ingest roots are a list of absolute paths separated by the platform delimiter', () => {
    assert.deepEqual(loadConfig({}, { VMEM_INGEST_ROOTS: `/a/docs${delimiter} /b ${delimiter}` }).ingestRoots, [
      '/a/docs',
      '/b',
    ]);
  });

  test('an empty or blank env var is unset: its default applies', () => {
    const blank = Object.fromEntries(Object.values(SETTINGS).map((s, i) => [s.env, i % 2 ? '' : '  ']));
    assert.deepEqual(loadConfig({}, { ...blank, HOME: '/home/u' }), loadConfig({}, { HOME: '/home/u' }));
    assert.equal(loadConfig({}, { VMEM_PAGE_TOKENS: '', VMEM_L1_TOKENS: '4000' }).pageTokens, 2000);
    assertNames(() => loadConfig({}, { VMEM_MAX_SESSIONS: '0' }), 'maxSessions', /at least 1/);
  });

  test('an unknown flag fails naming it and the known ones', () => {
    assert.throws(
      () => loadConfig({ '--page-token': '200' }, {}),
      (err: unknown) =>
        err instanceof ConfigError &&
        /unknown option --page-token\b/.test(err.message) &&
        err.message.includes('--page-tokens'),
    );
  });

  test('the CLI reports a bad setting on stderr with exit code 2 and writes nothing to stdout', () => {
    const r = spawnSync(
      process.execPath,
      [join(REPO, 'dist', 'cli.js'), 'stats', '--data-dir', tmp.dir, '--page-tokens', 'abc'],
      { encoding: 'utf8', env: { PATH: process.env.PATH } },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /pageTokens \(VMEM_PAGE_TOKENS \/ --page-tokens\)/);
    const u = spawnSync(process.execPath, [join(REPO, 'dist', 'cli.js'), 'stats', '--bogus', 'x'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    assert.equal(u.status, 2);
    assert.match(u.stderr, /unknown option --bogus/);
  });
});
