import type { McpServer, RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ListToolsRequestSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

type JsonSchema = { [key: string]: unknown };

/**
 * A zod shape as JSON Schema inside the subset that strict function-calling providers take: OpenAI's
 * strict mode (after hosts make every property required and nullable) and Gemini's OpenAPI subset.
 * Dropped: `$schema` and `additionalProperties` (Gemini refuses both; strict hosts add the latter),
 * string lengths (OpenAI strict refuses them; the server still checks them), and zod's ±2^53 integer
 * bounds, which say nothing. `const` and exclusive bounds become their inclusive equivalents.
 */
export function providerSafe(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema' || key === 'additionalProperties' || key === 'minLength' || key === 'maxLength') continue;
    if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) === Number.MAX_SAFE_INTEGER) continue;
    if (key === 'exclusiveMinimum' && schema.type === 'integer') out.minimum = (value as number) + 1;
    else if (key === 'exclusiveMaximum' && schema.type === 'integer') out.maximum = (value as number) - 1;
    else if (key === 'const') {
      if (typeof value === 'string') out.enum = [value];
      else Object.assign(out, { minimum: value, maximum: value });
    } else if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, providerSafe(v)]),
      );
    } else if (key === 'items' || key === 'anyOf') {
      out[key] = Array.isArray(value)
        ? value.map((v) => providerSafe(v as JsonSchema))
        : providerSafe(value as JsonSchema);
    } else out[key] = value;
  }
  return out;
}

/** Advertised schemas by zod schema: the tools' schemas are shared by every session, and so are these. */
const made = { input: new WeakMap<object, Tool['inputSchema']>(), output: new WeakMap<object, Tool['inputSchema']>() };

function advertised(schema: unknown, io: 'input' | 'output'): Tool['inputSchema'] {
  let json = made[io].get(schema as object);
  if (!json)
    made[io].set(
      schema as object,
      (json = {
        ...providerSafe(z.toJSONSchema(schema as z.ZodType, { target: 'draft-7', io }) as JsonSchema),
        type: 'object',
      }),
    );
  return json;
}

/**
 * Serves `tools/list` from the registered tools with provider-safe schemas, in place of the SDK's
 * own listing (which emits draft-07 `$schema` and tuples). Calls are still validated by the SDK
 * against the same zod schemas.
 */
export function listToolsSafely(server: McpServer, tools: Record<string, RegisteredTool>): void {
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: Object.entries(tools)
      .filter(([, t]) => t.enabled)
      .map(([name, t]) => ({
        name,
        title: t.title,
        description: t.description,
        inputSchema: advertised(t.inputSchema, 'input'),
        ...(t.outputSchema ? { outputSchema: advertised(t.outputSchema, 'output') } : {}),
        annotations: t.annotations,
        execution: t.execution,
      })),
  }));
}
