import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, isJSONRPCRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

const kindOf = (v: unknown) => (Array.isArray(v) ? 'an array' : v === null ? 'null' : `a ${typeof v}`);

/**
 * What reaches the tools from `tools/call`, made what hosts mean before the SDK validates it:
 * - `arguments` that are not an object (an array, a string, a number) are the caller's error: they get
 *   -32602 naming the problem, where the SDK's own request parsing would answer -32603 (internal error).
 * - `arguments: null`, and any argument whose value is null, mean "not given": strict-mode models send
 *   null for every optional argument they leave out.
 * Returns undefined when the message goes on to the server, or the error response to send back.
 */
export function normalizeToolCall(message: JSONRPCMessage): JSONRPCMessage | undefined {
  if (!isJSONRPCRequest(message) || message.method !== 'tools/call' || !message.params) return undefined;
  const params = message.params as { arguments?: unknown };
  const args = params.arguments;
  if (args === null) {
    delete params.arguments;
    return undefined;
  }
  if (args === undefined) return undefined;
  if (typeof args !== 'object' || Array.isArray(args)) {
    const text = `Invalid params: tools/call "arguments" must be an object of named arguments, e.g. {"query": "…"}; got ${kindOf(args)}`;
    return { jsonrpc: '2.0', id: message.id, error: { code: ErrorCode.InvalidParams, message: text } };
  }
  const named = args as Record<string, unknown>;
  for (const key of Object.keys(named)) if (named[key] === null) delete named[key];
  return undefined;
}

/**
 * Puts normalizeToolCall in front of a connected server: call it after `server.connect(transport)`,
 * which is when the server's own message handler is in place.
 */
export function guardToolCalls(transport: Transport): void {
  const deliver = transport.onmessage;
  if (!deliver) throw new Error('guardToolCalls: connect the server to the transport first');
  transport.onmessage = (message, extra) => {
    const refusal = normalizeToolCall(message);
    if (!refusal) return deliver(message, extra);
    transport
      .send(refusal, { relatedRequestId: (message as { id: string | number }).id })
      .catch((err: unknown) => console.error('vmem: could not answer a malformed tools/call:', err));
  };
}
