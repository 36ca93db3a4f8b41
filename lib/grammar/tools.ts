// Tool calls in the Qwen / Hermes format: tools rendered through the model's chat template
// (which lists them in the system turn), calls written by the model as
//   <tool_call>
//   {"name": "get_weather", "arguments": {"city": "Paris"}}
//   </tool_call>
// parsed back into { name, arguments }, results fed back as `tool` messages (the template
// wraps them in <tool_response>). Llama 3.x templates ("Environment: ipython"): the turn is
// one bare JSON object {"name": ..., "parameters": {...}}, results come back as `ipython`
// turns. When toolChoice requires a call, a grammar makes the output exactly such calls
// whose arguments validate against the tool's parameters schema (the JSON Schema grammar).
// Templates with neither format are refused.
import type { Model, GenerateOptions, GeneratedPiece } from '../models/model';
import { GENERATE_OPTIONS } from '../generate/generate';
import { ChatMessage, CHATML_TEMPLATE, renderChat } from '../tokenizer/chat';
import type { Tokenizer } from '../tokenizer';
import { checkInt, checkKeys, fail } from '../check';
import { jsonSchemaToGbnf } from './json-schema';
import { gbnfClass, gbnfLiteral } from './regex';

/** A tool as OpenAI's API describes it. */
export interface ToolDefinition {
  type?: 'function';
  function: {
    name: string;
    description?: string;
    /** a JSON Schema of the arguments object (default: any object) */
    parameters?: Record<string, unknown>;
  };
}

export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
  /** the call's id, where the format has one (Mistral: 9 letters and digits) */
  id?: string;
}

/** 'auto': the model may call tools; 'none': it may not (no parsing); 'required': one call at least; { name }: that tool */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export interface ToolChatOptions extends GenerateOptions {
  tools: readonly ToolDefinition[];
  toolChoice?: ToolChoice;
  /** several calls in one turn (default true): up to 8 blocks; false: one */
  parallelToolCalls?: boolean;
  /** the chat template to render with (default: the model's; ChatML with Hermes tools when it has none) */
  chatTemplate?: string;
}

/** Every key ToolChatOptions has. */
export const TOOL_CHAT_OPTIONS: readonly string[] = [...GENERATE_OPTIONS, 'tools', 'toolChoice', 'parallelToolCalls', 'chatTemplate'];

export interface ToolChatResult {
  /** the text outside tool-call blocks */
  content: string;
  toolCalls: ToolCall[];
  /** GenerationStats.stopReason of the turn */
  stopReason: string | undefined;
}

/** A streamed turn: text, each tool call's raw JSON as it arrives, then each call parsed. */
export type ToolChatEvent =
  | { type: 'content'; text: string }
  | { type: 'tool_call_delta'; index: number; text: string }
  | { type: 'tool_call'; index: number; call: ToolCall };

const OPEN = '<tool_call>', CLOSE = '</tool_call>';
const MISTRAL_TAG = '[TOOL_CALLS]';

/**
 * ChatML with the Hermes tool format, for models whose file has no template: the tools as
 * JSON lines in <tools></tools> in the system turn, the assistant's calls as <tool_call>
 * blocks, tool results as a user turn of <tool_response> blocks.
 */
export const HERMES_CHATML_TEMPLATE = [
  "{%- set sys = messages[0].content if messages and messages[0].role == 'system' else '' -%}",
  '{%- if tools -%}',
  "{{- '<|im_start|>system\\n' + sys + ('\\n\\n' if sys else '') + '# Tools\\n\\nYou may call functions. Their signatures, in <tools></tools>:\\n<tools>' -}}",
  "{%- for t in tools -%}{{- '\\n' + (t | tojson) -}}{%- endfor -%}",
  "{{- '\\n</tools>\\n\\nFor each call, write a JSON object with the function name and arguments in <tool_call></tool_call> tags:\\n<tool_call>\\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\\n</tool_call><|im_end|>\\n' -}}",
  "{%- elif sys -%}{{- '<|im_start|>system\\n' + sys + '<|im_end|>\\n' -}}",
  '{%- endif -%}',
  '{%- for m in messages -%}',
  "{%- if m.role == 'system' and loop.first -%}",
  "{%- elif m.role == 'tool' -%}",
  "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}",
  "{{- '\\n<tool_response>\\n' + m.content + '\\n</tool_response>' -}}",
  "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}{{- '<|im_end|>\\n' -}}{%- endif -%}",
  "{%- elif m.role == 'assistant' and m.tool_calls -%}",
  "{{- '<|im_start|>assistant' + ('\\n' + m.content if m.content else '') -}}",
  "{%- for c in m.tool_calls -%}{{- '\\n<tool_call>\\n{\"name\": \"' + c.function.name + '\", \"arguments\": ' + (c.function.arguments | tojson) + '}\\n</tool_call>' -}}{%- endfor -%}",
  "{{- '<|im_end|>\\n' -}}",
  "{%- else -%}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' -}}",
  '{%- endif -%}',
  '{%- endfor -%}',
  "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}",
].join('');

function checkTools(tools: unknown, fn: string, arg = 'opts.tools'): ToolDefinition[] {
  if (!Array.isArray(tools) || tools.length === 0) fail('type', arg, 'a non-empty array of { type: "function", function: { name, parameters } }', tools, fn);
  const names = new Set<string>();
  return (tools as unknown[]).map((t, i) => {
    const f = (t as ToolDefinition | null)?.function;
    if (!f || typeof f !== 'object' || typeof f.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(f.name)) {
      fail('type', `${arg}[${i}]`, '{ function: { name: [A-Za-z0-9_.-]{1,64}, parameters?: JSON Schema } }', t, fn);
    }
    if (names.has(f.name)) fail('range', `${arg}[${i}].function.name`, 'a name no other tool has', f.name, fn);
    names.add(f.name);
    if (f.parameters !== undefined && (typeof f.parameters !== 'object' || f.parameters === null || Array.isArray(f.parameters))) {
      fail('type', `${arg}[${i}].function.parameters`, 'a JSON Schema object', f.parameters, fn);
    }
    return { type: 'function', function: { ...f } };
  });
}

/**
 * How a template's model writes tool calls: Qwen / Hermes <tool_call> blocks, Llama 3.x one
 * bare JSON object, Mistral (Nemo) [TOOL_CALLS] followed by a JSON array of calls.
 */
export type ToolFormat = 'hermes' | 'llama3' | 'mistral';
const FORMATS: readonly ToolFormat[] = ['hermes', 'llama3', 'mistral'];

/** The tool-call format a chat template uses; refused when it is neither fuselm knows. */
export function toolFormat(template: string): ToolFormat {
  if (template.includes(OPEN)) return 'hermes';
  if (template.includes('"parameters": ') && template.includes('ipython')) return 'llama3';
  if (template.includes(MISTRAL_TAG + '[')) return 'mistral';
  throw new Error('chatWithTools: the chat template has no tool-call format fuselm knows (supported: Qwen / Hermes <tool_call> blocks, Llama 3.x JSON, Mistral [TOOL_CALLS] arrays); pass opts.chatTemplate');
}

/** The template to render tools with: the given one, the model's, or the Hermes ChatML one; refused without a known tool format. */
export function toolTemplate(tokenizer: Tokenizer, override?: string): string {
  const t = override ?? tokenizer.chatTemplate;
  if (t === undefined || t === CHATML_TEMPLATE) return HERMES_CHATML_TEMPLATE;
  toolFormat(t);
  return t;
}

/** The prompt tokens of `messages` with `tools` rendered through `template`. */
export function toolChatTokens(tokenizer: Tokenizer, messages: readonly ChatMessage[], tools: readonly ToolDefinition[], template: string): number[] {
  const tk = tokenizer;
  const bos = tk.bos !== undefined ? tk.tokens[tk.bos] : '';
  const text = renderChat(template, messages, { bosToken: bos, eosToken: tk.eos !== undefined ? tk.tokens[tk.eos] : '', tools });
  return tk.encode(text, { addSpecial: !(bos && text.startsWith(bos)), parseSpecial: true });
}

/**
 * GBNF for one or more tool-call blocks (at most `maxCalls`), each a JSON object with one of
 * the tools' names and arguments valid for its parameters schema.
 */
export function toolCallGbnf(tools: readonly ToolDefinition[], maxCalls = 1, format: ToolFormat = 'hermes', tagToken?: number): string {
  tools = checkTools(tools, 'toolCallGbnf', 'tools');
  checkInt(maxCalls, 'maxCalls', 1, 64, 'toolCallGbnf');
  if (!FORMATS.includes(format)) fail('type', 'format', FORMATS.map((f) => `'${f}'`).join(', '), format, 'toolCallGbnf');
  if (tagToken !== undefined) checkInt(tagToken, 'tagToken', 0, 2 ** 31 - 1, 'toolCallGbnf');
  const key = format === 'llama3' ? 'parameters' : 'arguments';
  const schema = {
    anyOf: tools.map((t) => ({
      type: 'object',
      properties: {
        name: { const: t.function.name }, [key]: t.function.parameters ?? { type: 'object' },
        ...(format === 'mistral' ? { id: { type: 'string', pattern: '^[a-zA-Z0-9]{9}$' } } : {}),
      },
      required: ['name', key],
      additionalProperties: false,
    })),
  };
  // Llama 3.x: one bare JSON object (its template takes a single call a turn)
  if (format === 'llama3') return jsonSchemaToGbnf(schema);
  if (format === 'mistral') {
    // the tag: its token where it is one (a control token has no text to spell it with)
    const tag = tagToken !== undefined ? `<[${tagToken}]>` : gbnfLiteral(MISTRAL_TAG);
    const list = jsonSchemaToGbnf({ type: 'array', items: schema, minItems: 1, maxItems: maxCalls }).replace(/^root ::= /, 'tool-call-list ::= ');
    return `root ::= ${tag} tool-call-list\n${list}`;
  }
  const json = jsonSchemaToGbnf(schema).replace(/^root ::= /, 'tool-call-json ::= ');
  const block = `${gbnfLiteral(OPEN + '\n')} tool-call-json ${gbnfLiteral('\n' + CLOSE)}`;
  const more = maxCalls > 1 ? ` ( "\\n" ${block} ){0,${maxCalls - 1}}` : '';
  return `root ::= ${block}${more}\n${json}`;
}

/**
 * GBNF for toolChoice 'auto': any text, then optionally tool calls. The text part cannot
 * contain the call's opening (Hermes: the `<tool_call>` tag, written out by a KMP automaton
 * over the tag's characters; Llama 3.x: a first non-space character '{'), so once the model
 * opens a call the rest of it is held to the tools' schemas as when a call is required.
 */
export function autoToolGbnf(tools: readonly ToolDefinition[], maxCalls = 8, format: ToolFormat = 'hermes', tagToken?: number): string {
  const forced = toolCallGbnf(tools, maxCalls, format, tagToken).replace(/^root ::= /, 'tool-calls ::= ');
  if (format === 'mistral') {
    // text that does not start with the tag's characters (the tag as a token is not text at all)
    const tag = Array.from(MISTRAL_TAG);
    const rules = tag.map((c, k) => `lead-${k} ::= "" | ${gbnfClass(complementOf([c.codePointAt(0)!]))} .*${k + 1 < tag.length ? ` | ${gbnfLiteral(c)} lead-${k + 1}` : ''}`);
    return `root ::= tool-calls | lead-0\n${rules.join('\n')}\n${forced}`;
  }
  if (format === 'llama3') {
    return `root ::= [ \\t\\n]* ( tool-calls | [^{ \\t\\n] .* )?\n${forced}`;
  }
  const tag = Array.from(OPEN, (c) => c.codePointAt(0)!);
  const chars = [...new Set(tag)];
  // delta(k, c): the longest prefix of the tag that is a suffix of tag[0..k) + c
  const delta = (k: number, c: number) => {
    const seq = [...tag.slice(0, k), c];
    for (let n = Math.min(seq.length, tag.length); n > 0; n--) {
      if (seq.slice(seq.length - n).every((x, i) => x === tag[i])) return n;
    }
    return 0;
  };
  const others = gbnfClass(complementOf(chars));
  const rules: string[] = [];
  for (let k = 0; k < tag.length; k++) {
    const alts = ['""', `${others} text-${0}`];
    for (const c of chars) {
      const n = delta(k, c);
      if (n < tag.length) alts.push(`${gbnfLiteral(String.fromCodePoint(c))} text-${n}`);
    }
    rules.push(`text-${k} ::= ${alts.join(' | ')}`);
  }
  return `root ::= text-0 ( tool-calls [ \\n]* )?\n${rules.join('\n')}\n${forced}`;
}

function complementOf(cps: number[]): [number, number][] {
  const out: [number, number][] = [];
  let next = 0;
  for (const c of [...cps].sort((a, b) => a - b)) { if (c > next) out.push([next, c - 1]); next = c + 1; }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

/**
 * The tool calls in a turn's text, and the text around them. A block that is not a JSON
 * object with a string `name` and an object `arguments`, or that names no given tool, is an
 * error naming it.
 */
export function parseToolCalls(text: string, tools?: readonly ToolDefinition[], format: ToolFormat = 'hermes'): { content: string; toolCalls: ToolCall[] } {
  if (typeof text !== 'string') fail('type', 'text', 'a string', text, 'parseToolCalls');
  if (format === 'llama3') {
    const t = text.trim();
    return t.startsWith('{') ? { content: '', toolCalls: [parseCall(t, 0, tools, 'parameters')] } : { content: t, toolCalls: [] };
  }
  if (format === 'mistral') {
    const t = text.trim();
    return t.startsWith(MISTRAL_TAG) ? { content: '', toolCalls: parseCallList(t.slice(MISTRAL_TAG.length), tools) } : { content: t, toolCalls: [] };
  }
  const calls: ToolCall[] = [];
  let content = '';
  let at = 0;
  for (;;) {
    const i = text.indexOf(OPEN, at);
    if (i < 0) { content += text.slice(at); break; }
    content += text.slice(at, i);
    const j = text.indexOf(CLOSE, i + OPEN.length);
    if (j < 0) throw new Error(`parseToolCalls: a ${OPEN} block at offset ${i} has no ${CLOSE}`);
    calls.push(parseCall(text.slice(i + OPEN.length, j), calls.length, tools));
    at = j + CLOSE.length;
  }
  return { content: content.trim(), toolCalls: calls };
}

function parseCall(body: string, index: number, tools?: readonly ToolDefinition[], key: 'arguments' | 'parameters' = 'arguments'): ToolCall {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (e) {
    throw new Error(`parseToolCalls: tool call ${index} is not JSON (${(e as Error).message}): ${body.trim().slice(0, 200)}`);
  }
  const o = v as Record<string, unknown> | null;
  const args = o?.[key];
  if (!o || typeof o !== 'object' || typeof o.name !== 'string' || !args || typeof args !== 'object' || Array.isArray(args)) {
    throw new Error(`parseToolCalls: tool call ${index} is not {"name": string, "${key}": object}: ${body.trim().slice(0, 200)}`);
  }
  if (tools && !tools.some((t) => t.function.name === o.name)) throw new Error(`parseToolCalls: tool call ${index} names '${o.name}', which is not one of the tools (${tools.map((t) => t.function.name).join(', ')})`);
  const call: ToolCall = { name: o.name, arguments: args as Record<string, unknown> };
  if (typeof o.id === 'string') call.id = o.id;
  return call;
}

/** Mistral: a JSON array of calls */
function parseCallList(body: string, tools?: readonly ToolDefinition[]): ToolCall[] {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (e) {
    throw new Error(`parseToolCalls: the ${MISTRAL_TAG} list is not JSON (${(e as Error).message}): ${body.trim().slice(0, 200)}`);
  }
  if (!Array.isArray(v)) throw new Error(`parseToolCalls: the ${MISTRAL_TAG} list is not a JSON array: ${body.trim().slice(0, 200)}`);
  return v.map((c, i) => parseCall(JSON.stringify(c), i, tools));
}

const TOOL_KEYS = ['tools', 'toolChoice', 'parallelToolCalls', 'chatTemplate'];

/**
 * One assistant turn with tools, streamed: content deltas, each tool call's raw JSON deltas,
 * and each call parsed when its block closes. toolChoice 'required' or { name } forces the
 * turn to be tool calls by a grammar; 'auto' lets the model choose; 'none' renders the tools
 * but reads the reply as text.
 * @example
 *   const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
 *   for await (const e of chatWithToolsStream(model, [{ role: 'user', content: 'Weather in Paris?' }], { tools, toolChoice: 'required' })) {
 *     if (e.type === 'tool_call') console.log(e.call.name, e.call.arguments);
 *   }
 */
export async function* chatWithToolsStream(model: Model, messages: readonly ChatMessage[], opts: ToolChatOptions): AsyncGenerator<ToolChatEvent, void, void> {
  const fn = 'chatWithTools';
  if (!model || typeof (model as Model).generate !== 'function' || !(model as Model).tokenizer) fail('type', 'model', 'a Model', model, fn);
  if (!Array.isArray(messages)) fail('type', 'messages', 'an array of chat messages', messages, fn);
  if (!opts || typeof opts !== 'object') fail('type', 'opts', 'an options object with tools', opts, fn);
  checkKeys(opts, TOOL_CHAT_OPTIONS, 'opts', fn);
  const tools = checkTools(opts.tools, fn);
  const choice = opts.toolChoice ?? 'auto';
  let forced: ToolDefinition[] | undefined;
  if (choice === 'required') forced = tools;
  else if (typeof choice === 'object' && choice !== null) {
    checkKeys(choice, ['name'], 'opts.toolChoice', fn);
    const t = tools.find((x) => x.function.name === choice.name);
    if (!t) fail('range', 'opts.toolChoice.name', `one of the tools (${tools.map((x) => x.function.name).join(', ')})`, choice.name, fn);
    forced = [t];
  } else if (choice !== 'auto' && choice !== 'none') fail('type', 'opts.toolChoice', "'auto', 'none', 'required' or { name }", choice, fn);
  if (opts.parallelToolCalls !== undefined && typeof opts.parallelToolCalls !== 'boolean') fail('type', 'opts.parallelToolCalls', 'a boolean', opts.parallelToolCalls, fn);
  if (forced && (opts.grammar !== undefined || opts.jsonSchema !== undefined || opts.json)) {
    throw new TypeError(`${fn}: toolChoice '${typeof choice === 'string' ? choice : 'name'}' sets the grammar; opts.grammar, opts.jsonSchema and opts.json cannot be given with it`);
  }
  const template = toolTemplate(model.tokenizer, opts.chatTemplate);
  const format = toolFormat(template);
  const tokens = toolChatTokens(model.tokenizer, messages, tools, template);
  const gen: GenerateOptions = Object.fromEntries(Object.entries(opts).filter(([k]) => !TOOL_KEYS.includes(k)));
  const maxCalls = opts.parallelToolCalls === false ? 1 : 8;
  const tagToken = format === 'mistral' ? singleToken(model.tokenizer, MISTRAL_TAG) : undefined;
  if (forced) gen.grammar = toolCallGbnf(forced, maxCalls, format, tagToken);
  // 'auto' without a grammar of the caller's: free text, but a call once opened is well formed
  else if (choice === 'auto' && opts.grammar === undefined && opts.jsonSchema === undefined && !opts.json) gen.grammar = autoToolGbnf(tools, maxCalls, format, tagToken);
  if (format !== 'hermes') { yield* leadStream(model, tokens, gen, tools, choice !== 'none', format, tagToken); return; }
  // split the stream: text outside blocks, block bodies as deltas (a possible tag start is held back)
  let buf = '', inCall = false, body = '', index = 0;
  const parse = choice !== 'none';
  const stream: AsyncGenerator<GeneratedPiece> = model.generate(tokens, gen);
  const drain = function* (final: boolean): Generator<ToolChatEvent> {
    for (;;) {
      const tag = inCall ? CLOSE : OPEN;
      const i = buf.indexOf(tag);
      if (i >= 0) {
        const before = buf.slice(0, i);
        if (inCall) {
          if (before) yield { type: 'tool_call_delta', index, text: before };
          body += before;
          yield { type: 'tool_call', index, call: parseCall(body, index, tools) };
          index++;
          body = '';
        } else if (before) {
          yield { type: 'content', text: before };
        }
        inCall = !inCall;
        buf = buf.slice(i + tag.length);
        continue;
      }
      // keep what could be the start of the tag
      let keep = 0;
      if (!final) for (let k = Math.min(tag.length - 1, buf.length); k > 0; k--) if (tag.startsWith(buf.slice(buf.length - k))) { keep = k; break; }
      const out = buf.slice(0, buf.length - keep);
      if (out) {
        if (inCall) { body += out; yield { type: 'tool_call_delta', index, text: out }; }
        else yield { type: 'content', text: out };
      }
      buf = buf.slice(buf.length - keep);
      return;
    }
  };
  for await (const p of stream) {
    if (!parse) { if (p.text) yield { type: 'content', text: p.text }; continue; }
    buf += p.text;
    yield* drain(false);
  }
  if (parse) {
    yield* drain(true);
    if (inCall) throw new Error(`chatWithTools: the turn ended inside tool call ${index} (stopReason ${model.lastStats?.stopReason}): ${body.slice(0, 200)}`);
  }
}

/** the id of `text` when it is exactly one token of the vocabulary */
function singleToken(tk: Tokenizer, text: string): number | undefined {
  const ids = tk.encode(text, { addSpecial: false, parseSpecial: true });
  return ids.length === 1 ? ids[0] : undefined;
}

/**
 * Llama 3.x and Mistral: the turn's start says what it is. Llama: '{' opens one call.
 * Mistral: the [TOOL_CALLS] tag (as text, or as its token) opens a JSON array of calls.
 * A call streams as deltas and is parsed at the end; otherwise the turn is text.
 */
async function* leadStream(model: Model, tokens: number[], gen: GenerateOptions, tools: ToolDefinition[], parse: boolean, format: ToolFormat, tagToken: number | undefined): AsyncGenerator<ToolChatEvent, void, void> {
  let mode: 'undecided' | 'content' | 'call' = parse ? 'undecided' : 'content';
  let lead = '', body = '';
  for await (const p of model.generate(tokens, gen)) {
    let text = p.text;
    if (mode === 'undecided') {
      if (format === 'mistral' && p.token === tagToken) { mode = 'call'; lead = ''; continue; }
      lead += text;
      const t = lead.trimStart();
      if (!t) continue;
      if (format === 'llama3') {
        mode = t.startsWith('{') ? 'call' : 'content';
        text = mode === 'call' ? t : lead;
      } else {
        if (MISTRAL_TAG.startsWith(t)) continue; // could still become the tag
        mode = t.startsWith(MISTRAL_TAG) ? 'call' : 'content';
        text = mode === 'call' ? t.slice(MISTRAL_TAG.length) : lead;
      }
    }
    if (!text) continue;
    if (mode === 'content') yield { type: 'content', text };
    else { body += text; yield { type: 'tool_call_delta', index: 0, text }; }
  }
  if (mode === 'undecided' && lead) yield { type: 'content', text: lead };
  if (mode !== 'call') return;
  const calls = format === 'llama3' ? [parseCall(body, 0, tools, 'parameters')] : parseCallList(body, tools);
  for (let i = 0; i < calls.length; i++) yield { type: 'tool_call', index: i, call: calls[i] };
}

/** One assistant turn with tools: its text and its parsed tool calls (see chatWithToolsStream). */
export async function chatWithTools(model: Model, messages: readonly ChatMessage[], opts: ToolChatOptions): Promise<ToolChatResult> {
  let content = '';
  const toolCalls: ToolCall[] = [];
  for await (const e of chatWithToolsStream(model, messages, opts)) {
    if (e.type === 'content') content += e.text;
    else if (e.type === 'tool_call') toolCalls.push(e.call);
  }
  return { content: content.trim(), toolCalls, stopReason: model.lastStats?.stopReason };
}

/** The assistant message that records `calls` in the conversation (the OpenAI shape the templates read). */
export function toolCallMessage(calls: readonly ToolCall[], content = ''): ChatMessage {
  return { role: 'assistant', content, tool_calls: calls.map((c) => ({ ...(c.id !== undefined ? { id: c.id } : {}), type: 'function', function: { name: c.name, arguments: c.arguments } })) };
}
