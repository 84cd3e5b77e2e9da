/**
 * The tools as hosts hand them to model providers: schemas that OpenAI's strict mode (after the usual
 * conversion) and Gemini's schema subset both accept, bounds the SDK enforces, a small tools/list, and
 * arguments as strict-mode models send them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { tokenizer } from '../src/core/tokenizer.ts';
import { call, connectedStore, demoDoc, TOOL_NAMES, textOf } from './helpers.ts';

type Schema = { [key: string]: unknown };

/**
 * What hosts do before sending a tool to OpenAI with `strict: true` (the Agents SDKs, the openai
 * package's helpers): every object closed, every property required, the optional ones nullable.
 */
function toOpenAIStrict(s: Schema, optional = false): Schema {
  const out: Schema = { ...s };
  if (s.type === 'object') {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    const required = new Set((s.required ?? []) as string[]);
    out.properties = Object.fromEntries(
      Object.entries(props).map(([k, v]) => [k, toOpenAIStrict(v, !required.has(k))]),
    );
    out.required = Object.keys(props);
    out.additionalProperties = false;
  }
  if (s.type === 'array' && s.items && !Array.isArray(s.items)) out.items = toOpenAIStrict(s.items as Schema);
  if (optional) out.type = [s.type, 'null'];
  return out;
}

/** OpenAI strict mode's supported subset: the keywords its documentation lists, per type. */
const OPENAI_KEYWORDS: Record<string, string[]> = {
  any: ['type', 'description', 'enum', 'title'],
  string: ['pattern', 'format'],
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  array: ['items', 'minItems', 'maxItems'],
  object: ['properties', 'required', 'additionalProperties'],
  boolean: [],
};

function openAIStrictProblems(s: Schema, at = '$'): string[] {
  const types = (Array.isArray(s.type) ? s.type : [s.type]).filter((t) => t !== 'null') as string[];
  if (types.length !== 1 || !OPENAI_KEYWORDS[types[0]!]) return [`${at}: type ${JSON.stringify(s.type)}`];
  const type = types[0]!;
  const problems = Object.keys(s)
    .filter((k) => !OPENAI_KEYWORDS.any!.includes(k) && !OPENAI_KEYWORDS[type]!.includes(k))
    .map((k) => `${at}: "${k}" is not permitted`);
  if (type === 'object') {
    if (s.additionalProperties !== false) problems.push(`${at}: additionalProperties must be false`);
    const props = (s.properties ?? {}) as Record<string, Schema>;
    if (JSON.stringify([...((s.required ?? []) as string[])].sort()) !== JSON.stringify(Object.keys(props).sort()))
      problems.push(`${at}: required must list every property`);
    for (const [k, v] of Object.entries(props)) problems.push(...openAIStrictProblems(v, `${at}.${k}`));
  }
  if (type === 'array') {
    if (!s.items || Array.isArray(s.items)) problems.push(`${at}: items must be one schema`);
    else problems.push(...openAIStrictProblems(s.items as Schema, `${at}[]`));
  }
  return problems;
}

/** Gemini's function-declaration Schema (an OpenAPI 3.0 subset): its fields, one type, no tuples. */
const GEMINI_FIELDS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);

function geminiProblems(s: Schema, at = '$'): string[] {
  const problems = Object.keys(s)
    .filter((k) => !GEMINI_FIELDS.has(k))
    .map((k) => `${at}: unknown field "${k}"`);
  if (typeof s.type !== 'string' || !['string', 'number', 'integer', 'boolean', 'array', 'object'].includes(s.type))
    problems.push(`${at}: type ${JSON.stringify(s.type)}`);
  if (s.enum && (s.enum as unknown[]).some((v) => typeof v !== 'string'))
    problems.push(`${at}: enum values must be strings`);
  for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Schema>))
    problems.push(...geminiProblems(v, `${at}.${k}`));
  if (s.items !== undefined) {
    if (Array.isArray(s.items)) problems.push(`${at}: tuple items`);
    else problems.push(...geminiProblems(s.items as Schema, `${at}[]`));
  }
  return problems;
}

const setup = (t: import('node:test').TestContext) =>
  connectedStore(t, { '--page-tokens': '500', '--l1-tokens': '4000' });

/** A tools/call as a client may send it, bypassing the SDK client's own argument typing. */
const rawCall = (client: Client, params: Record<string, unknown>) =>
  client.request({ method: 'tools/call', params: params as never }, CallToolResultSchema);

describe('tool schemas every provider accepts', () => {
  test("every input and output schema passes OpenAI strict mode (after the usual conversion) and Gemini's subset", async (t) => {
    const { client } = await setup(t);
    const { tools } = await client.listTools();
    assert.equal(tools.length, TOOL_NAMES.length);
    for (const tool of tools) {
      for (const [which, schema] of [
        ['input', tool.inputSchema],
        ['output', tool.outputSchema],
      ] as const) {
        assert.ok(schema, `${tool.name} has an ${which} schema`);
        assert.deepEqual(
          openAIStrictProblems(toOpenAIStrict(schema as Schema)),
          [],
          `${tool.name} ${which} schema under OpenAI strict mode`,
        );
        assert.deepEqual(geminiProblems(schema as Schema), [], `${tool.name} ${which} schema under Gemini's subset`);
      }
    }
  });

  test('the checkers refuse what providers refuse (they can fail)', () => {
    assert.ok(geminiProblems({ type: 'object', $schema: 'x', properties: {} }).some((p) => p.includes('$schema')));
    assert.ok(
      geminiProblems({ type: 'array', items: [{ type: 'integer' }, { type: 'integer' }] }).some((p) =>
        p.includes('tuple'),
      ),
    );
    assert.ok(
      geminiProblems({ type: 'object', properties: { s: {} } }).some((p) => p.includes('$.s: type')),
      'a property with no type',
    );
    assert.ok(
      openAIStrictProblems(toOpenAIStrict({ type: 'object', properties: { s: {} } })).length > 0,
      'a property with no type',
    );
    assert.ok(
      openAIStrictProblems(
        toOpenAIStrict({ type: 'object', properties: { n: { type: 'string', maxLength: 3 } } }),
      ).some((p) => p.includes('maxLength')),
    );
  });

  test('bounds are in the schemas, and restore_context.snapshot has a type', async (t) => {
    const { client } = await setup(t);
    const { tools } = await client.listTools();
    const prop = (tool: string, name: string) =>
      (tools.find((x) => x.name === tool)!.inputSchema.properties as Record<string, Schema>)[name]!;
    assert.deepEqual([prop('page_fault', 'max_pages').minimum, prop('page_fault', 'max_pages').maximum], [1, 20]);
    assert.deepEqual(
      [prop('page_fault', 'max_tokens').minimum, prop('page_fault', 'max_tokens').maximum],
      [1, 4000],
      'at most the L1 budget',
    );
    assert.deepEqual([prop('load_page', 'page_ids').minItems, prop('load_page', 'page_ids').maxItems], [1, 200]);
    assert.deepEqual(
      [
        prop('serialize_context', 'expires_in_seconds').minimum,
        prop('serialize_context', 'expires_in_seconds').maximum,
      ],
      [1, 315_360_000],
    );
    assert.equal(prop('restore_context', 'snapshot').type, 'string');
    const all = JSON.stringify(tools);
    assert.ok(!all.includes('9007199254740991'), 'no meaningless ±2^53 integer bounds');
    assert.ok(!all.includes('$schema'));
  });

  test('tools/list stays small: at most 110 o200k tokens per tool for name, description and input schema', async (t) => {
    const { client } = await setup(t);
    const { tools } = await client.listTools();
    const enc = tokenizer('o200k_base');
    const perTool = tools.map((x: Tool) =>
      enc.count(JSON.stringify({ name: x.name, description: x.description, inputSchema: x.inputSchema })),
    );
    const mean = perTool.reduce((a, b) => a + b, 0) / tools.length;
    assert.ok(mean <= 110, `${mean.toFixed(1)} tokens per tool (${perTool.join(', ')})`);
  });
});

describe('arguments as hosts send them', () => {
  test('null stands for an argument left out, in every tool', async (t) => {
    const { client, pager } = await setup(t);
    const ing = await call<{ documents: { document_id: string }[] }>(client, 'ingest', {
      text: demoDoc().slice(0, 20_000),
      source: 'manual.md',
      path: null,
    });
    assert.equal(ing.s.documents.length, 1);
    const fault = await call(client, 'page_fault', {
      query: 'pump station Kestrel',
      max_pages: null,
      max_tokens: null,
      resolution: null,
      resend: null,
    });
    assert.ok(fault.s.pages.length > 0);
    const id = fault.s.pages[0]!.page_id;
    await call(client, 'load_page', { page_ids: [id], pin: null, max_tokens: null, resolution: null });
    const ser = await call<{ snapshot_id: string; snapshot: unknown }>(client, 'serialize_context', {
      note: null,
      expires_in_seconds: null,
    });
    await call(client, 'evict', { page_ids: null, all: true });
    await call(client, 'restore_context', { snapshot_id: ser.s.snapshot_id, snapshot: null });
    assert.equal(pager.table.get(id)?.id, id);
    // A required argument sent as null is missing, and the error says which.
    const r = await rawCall(client, { name: 'page_fault', arguments: { query: null } });
    assert.equal(r.isError, true);
    assert.match(textOf(r), /query/);
  });

  test('arguments that are not an object get -32602 naming the problem; arguments: null is no arguments', async (t) => {
    const { client } = await setup(t);
    for (const [args, kind] of [
      [['q'], 'an array'],
      ['query', 'a string'],
      [7, 'a number'],
    ] as const) {
      await assert.rejects(
        rawCall(client, { name: 'page_fault', arguments: args }),
        (err: Error & { code?: number }) => {
          assert.equal(err.code, -32602);
          assert.match(err.message, new RegExp(`"arguments" must be an object of named arguments.*got ${kind}`));
          return true;
        },
      );
    }
    const none = await rawCall(client, { name: 'page_fault', arguments: null });
    assert.equal(none.isError, true, 'no query');
    assert.match(textOf(none), /query/);
  });

  test('restore_context takes the snapshot as its JSON text or as the object', async (t) => {
    const { client } = await setup(t);
    await call(client, 'ingest', { text: demoDoc().slice(0, 20_000), source: 'manual.md' });
    const fault = await call(client, 'page_fault', { query: 'pump station Kestrel', max_pages: 2 });
    const { s } = await call<{ snapshot: { pages: { id: string }[] } }>(client, 'serialize_context', {});
    await call(client, 'evict', { all: true });
    const asText = await call(client, 'restore_context', { snapshot: JSON.stringify(s.snapshot) });
    assert.deepEqual(asText.s.pages.map((p) => p.page_id).sort(), fault.s.pages.map((p) => p.page_id).sort());
    await call(client, 'evict', { all: true });
    const asObject = await call(client, 'restore_context', { snapshot: s.snapshot });
    assert.deepEqual(asObject.s.pages.map((p) => p.page_id).sort(), fault.s.pages.map((p) => p.page_id).sort());
  });

  test("expires_in_seconds past its bound is the caller's error, not vmem's", async (t) => {
    const { client } = await setup(t);
    for (const v of [9007199254740991, 0, 1.5]) {
      const r = await rawCall(client, { name: 'serialize_context', arguments: { expires_in_seconds: v } });
      assert.equal(r.isError, true);
      assert.match(textOf(r), /Input validation error.*expires_in_seconds/s);
      assert.doesNotMatch(textOf(r), /Internal error/);
    }
  });
});
