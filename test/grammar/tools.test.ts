// Tool calls in the Qwen / Hermes <tool_call> format: tools and a whole tool round trip
// (assistant calls, tool results) rendered through the real Qwen2.5, Qwen3 and Hermes-3
// templates (llama.cpp's models/templates) and fuselm's Hermes ChatML one; parsed back; a
// required call forced by the grammar on synthetic models, its arguments valid by ajv.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Ajv from 'ajv/dist/2020';
import { writeSyntheticModel } from '../../lib/models/synthetic';
import { Model, load } from '../../lib/models/model';
import { renderChat, ChatMessage } from '../../lib/tokenizer/chat';
import {
  HERMES_CHATML_TEMPLATE, ToolDefinition, chatWithTools, chatWithToolsStream, parseToolCalls, toolCallGbnf, toolCallMessage, toolFormat, autoToolGbnf, Grammar,
} from '../../lib/grammar';

const TEMPLATES = '/work/llama.cpp-src/llama.cpp/models/templates';
const REAL = ['Qwen-Qwen2.5-7B-Instruct.jinja', 'Qwen-Qwen3-0.6B.jinja', 'NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja'].filter((f) => fs.existsSync(path.join(TEMPLATES, f)));

const TOOLS: ToolDefinition[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 8, description: 'city name' }, unit: { type: 'string', enum: ['c', 'f'], description: 'unit' } }, required: ['city'], additionalProperties: false } } },
  { type: 'function', function: { name: 'add', description: 'Adds two integers', parameters: { type: 'object', properties: { a: { type: 'integer', minimum: -99, maximum: 99, description: 'first' }, b: { type: 'integer', minimum: 0, maximum: 9, description: 'second' } }, required: ['a', 'b'], additionalProperties: false } } },
];
const ajv = new Ajv({ strict: false });
const validators = Object.fromEntries(TOOLS.map((t) => [t.function.name, ajv.compile(t.function.parameters!)]));

describe('rendering a tool round trip', () => {
  const convo: ChatMessage[] = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather in Paris, and 2+3?' },
    toolCallMessage([{ name: 'get_weather', arguments: { city: 'Paris' } }, { name: 'add', arguments: { a: 2, b: 3 } }]),
    { role: 'tool', name: 'get_weather', content: '{"temp": 21}' },
    { role: 'tool', name: 'add', content: '5' },
  ];
  for (const [name, template] of [...REAL.map((f) => [f, fs.readFileSync(path.join(TEMPLATES, f), 'utf8')]), ['fuselm Hermes ChatML', HERMES_CHATML_TEMPLATE]]) {
    test(`${name}: tools listed, calls as <tool_call> blocks that parse back, results in <tool_response>`, () => {
      const text = renderChat(template, convo, { tools: TOOLS, bosToken: '<s>', eosToken: '</s>' });
      expect(text).toContain('<tools>');
      expect(text).toContain('"get_weather"');
      expect(text).toContain('<tool_response>\n{"temp": 21}\n</tool_response>');
      expect(text).toContain('<tool_response>\n5\n</tool_response>');
      // the assistant turn's blocks parse back to the calls (the system prompt's example block is no call)
      const turn = text.slice(text.indexOf('Weather in Paris'));
      const { toolCalls } = parseToolCalls(turn.slice(0, turn.indexOf('<tool_response>')));
      expect(toolCalls).toEqual([{ name: 'get_weather', arguments: { city: 'Paris' } }, { name: 'add', arguments: { a: 2, b: 3 } }]);
      expect(text.trimEnd().endsWith('assistant')).toBe(true);
    });
  }
  test('the real templates are there', () => { expect(REAL.length).toBe(3); });
});

const LLAMA3 = ['meta-llama-Llama-3.1-8B-Instruct.jinja', 'meta-llama-Llama-3.2-3B-Instruct.jinja', 'meta-llama-Llama-3.3-70B-Instruct.jinja'].filter((f) => fs.existsSync(path.join(TEMPLATES, f)));

describe('Llama 3.x: one bare JSON call a turn, results as ipython turns', () => {
  for (const name of LLAMA3) {
    test(`${name}: format detected; tools listed; the call renders as {"name", "parameters"} and parses back`, () => {
      const template = fs.readFileSync(path.join(TEMPLATES, name), 'utf8');
      expect(toolFormat(template)).toBe('llama3');
      const convo: ChatMessage[] = [
        { role: 'user', content: 'Weather in Paris?' },
        toolCallMessage([{ name: 'get_weather', arguments: { city: 'Paris' } }]),
        { role: 'tool', content: '{"temp": 21}' },
      ];
      const text = renderChat(template, convo, { tools: TOOLS, bosToken: '<|begin_of_text|>' });
      expect(text).toContain('"get_weather"');
      expect(text).toContain('<|start_header_id|>ipython<|end_header_id|>');
      const turn = text.slice(text.lastIndexOf('<|start_header_id|>assistant<|end_header_id|>\n\n{') + 47);
      const call = turn.slice(0, turn.indexOf('<|eot_id|>'));
      expect(parseToolCalls(call, TOOLS, 'llama3')).toEqual({ content: '', toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] });
      expect(parseToolCalls('Just text.', TOOLS, 'llama3')).toEqual({ content: 'Just text.', toolCalls: [] });
    });
  }
  test('the Llama 3.x templates are there; other templates are refused', () => {
    expect(LLAMA3.length).toBe(3);
    expect(() => toolFormat(fs.readFileSync(path.join(TEMPLATES, 'google-gemma-2-2b-it.jinja'), 'utf8'))).toThrow(/has no tool-call format fuselm knows/);
  });
});

describe('Mistral (Nemo): [TOOL_CALLS] then a JSON array of calls with 9-character ids', () => {
  const file = path.join(TEMPLATES, 'mistralai-Mistral-Nemo-Instruct-2407.jinja');
  test('format detected; a round trip renders through the template and the calls parse back', () => {
    if (!fs.existsSync(file)) return;
    const template = fs.readFileSync(file, 'utf8');
    expect(toolFormat(template)).toBe('mistral');
    const convo: ChatMessage[] = [
      { role: 'user', content: 'Weather in Paris, and 2+3?' },
      toolCallMessage([{ name: 'get_weather', arguments: { city: 'Paris' }, id: 'abc123def' }, { name: 'add', arguments: { a: 2, b: 3 }, id: 'xyz987uvw' }]),
      { role: 'tool', content: '{"temp": 21}', tool_call_id: 'abc123def' },
      { role: 'tool', content: '5', tool_call_id: 'xyz987uvw' },
    ];
    const text = renderChat(template, convo, { tools: TOOLS, bosToken: '<s>', eosToken: '</s>' });
    expect(text).toContain('[AVAILABLE_TOOLS]');
    expect(text).toContain('[TOOL_RESULTS]{"content": 5, "call_id": "xyz987uvw"}[/TOOL_RESULTS]');
    const i = text.indexOf('[TOOL_CALLS]');
    const turn = text.slice(i, text.indexOf('</s>', i));
    expect(parseToolCalls(turn, TOOLS, 'mistral')).toEqual({ content: '', toolCalls: [
      { name: 'get_weather', arguments: { city: 'Paris' }, id: 'abc123def' }, { name: 'add', arguments: { a: 2, b: 3 }, id: 'xyz987uvw' },
    ] });
    expect(parseToolCalls('plain', TOOLS, 'mistral')).toEqual({ content: 'plain', toolCalls: [] });
  });
  test('grammars: forced list, and auto text that never starts with the tag', () => {
    const g = new Grammar(toolCallGbnf(TOOLS, 2, 'mistral'));
    const ok = (gr: Grammar, s: string) => { const m = gr.matcher(); return m.acceptString(s) && m.canEnd; };
    expect(ok(g, '[TOOL_CALLS][{"name": "add", "arguments": {"a": 1, "b": 2}, "id": "a1b2c3d4e"}]')).toBe(true);
    expect(ok(g, '[TOOL_CALLS][{"name":"add","arguments":{"a":1,"b":2}}, {"name":"get_weather","arguments":{"city":"x"}}]')).toBe(true);
    expect(ok(g, '[TOOL_CALLS][{"name":"add","arguments":{"a":1,"b":2},"id":"short"}]')).toBe(false);
    expect(ok(g, '[TOOL_CALLS][]')).toBe(false);
    const a = new Grammar(autoToolGbnf(TOOLS, 2, 'mistral'));
    for (const s of ['', 'Hello', '[TOOL', '[TOOLS] are', '[TOOL_CALLS][{"name":"add","arguments":{"a":1,"b":2}}]']) expect({ s, ok: ok(a, s) }).toEqual({ s, ok: true });
    for (const s of ['[TOOL_CALLS] text', '[TOOL_CALLS][{"name":"rm","arguments":{}}]']) expect({ s, ok: ok(a, s) }).toEqual({ s, ok: false });
    // the tag as one token: a token reference in the grammar
    expect(toolCallGbnf(TOOLS, 1, 'mistral', 7).startsWith('root ::= <[7]> tool-call-list')).toBe(true);
  });
});

describe('parseToolCalls', () => {
  test('blocks and text around them; errors name the block', () => {
    expect(parseToolCalls('Sure.\n<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>\n<tool_call>{"name":"get_weather","arguments":{"city":"x"}}</tool_call>', TOOLS)).toEqual({
      content: 'Sure.', toolCalls: [{ name: 'add', arguments: { a: 1, b: 2 } }, { name: 'get_weather', arguments: { city: 'x' } }],
    });
    expect(parseToolCalls('no calls')).toEqual({ content: 'no calls', toolCalls: [] });
    expect(() => parseToolCalls('<tool_call>{"name": "add"')).toThrow('parseToolCalls: a <tool_call> block at offset 0 has no </tool_call>');
    expect(() => parseToolCalls('<tool_call>{"name": 1, "arguments": {}}</tool_call>')).toThrow('parseToolCalls: tool call 0 is not {"name": string, "arguments": object}');
    expect(() => parseToolCalls('<tool_call>{nope}</tool_call>')).toThrow(/parseToolCalls: tool call 0 is not JSON/);
    expect(() => parseToolCalls('<tool_call>{"name": "rm", "arguments": {}}</tool_call>', TOOLS)).toThrow("parseToolCalls: tool call 0 names 'rm', which is not one of the tools (get_weather, add)");
  });
  test("'auto' grammar: any text without the tag, then well-formed calls only", () => {
    const g = new Grammar(autoToolGbnf(TOOLS));
    const ok = (s: string) => { const m = g.matcher(); return m.acceptString(s) && m.canEnd; };
    for (const s of ['', 'Just text <tool and <tool_cal but no tag.', 'x<<tool_call>\n{"name":"add","arguments":{"a":1,"b":2}}\n</tool_call>', 'Sure.\n<tool_call>\n{"name":"get_weather","arguments":{"city":"Rome"}}\n</tool_call>\n']) {
      expect({ s, ok: ok(s) }).toEqual({ s, ok: true });
    }
    for (const s of ['<tool_call>\n{"name":"rm","arguments":{}}\n</tool_call>', 'a <tool_call> b', '<tool_call>\n{"name":"add","arguments":{"a":1,"b":2}}\n</tool_call> trailing text']) {
      expect({ s, ok: ok(s) }).toEqual({ s, ok: false });
    }
    const l = new Grammar(autoToolGbnf(TOOLS, 1, 'llama3'));
    const okL = (s: string) => { const m = l.matcher(); return m.acceptString(s) && m.canEnd; };
    expect(okL('  {"name": "add", "parameters": {"a": 1, "b": 2}}')).toBe(true);
    expect(okL('Plain {text} answer')).toBe(true);
    expect(okL('{"name": "add", "arguments": {"a": 1, "b": 2}}')).toBe(false);
  });

  test('the forcing grammar derives exactly such blocks', () => {
    const g = new Grammar(toolCallGbnf(TOOLS, 2));
    const ok = (s: string) => { const m = g.matcher(); return m.acceptString(s) && m.canEnd; };
    expect(ok('<tool_call>\n{"name":"add","arguments":{"a":-5,"b":3}}\n</tool_call>')).toBe(true);
    expect(ok('<tool_call>\n{"name":"add","arguments":{"a":-5,"b":3}}\n</tool_call>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>')).toBe(true);
    expect(ok('<tool_call>\n{"name":"add","arguments":{"a":-5,"b":30}}\n</tool_call>')).toBe(false);
    expect(ok('<tool_call>\n{"name":"get_weather","arguments":{"a":1}}\n</tool_call>')).toBe(false);
    expect(ok('<tool_call>\n{"name":"rm","arguments":{}}\n</tool_call>')).toBe(false);
  });
});

describe('chatWithTools on synthetic models', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-tools-'));
  let model: Model;
  beforeAll(async () => {
    const file = path.join(tmp, 'qwen2.gguf');
    writeSyntheticModel(file, { arch: 'qwen2', dim: 64, nLayer: 1, nHead: 1, nHeadKv: 1, ffDim: 128, ctxLen: 2048, seed: 9, extraTokens: 50 });
    model = await load(file);
  });
  afterAll(() => { model.dispose(); fs.rmSync(tmp, { recursive: true, force: true }); });
  const user: ChatMessage[] = [{ role: 'user', content: 'Weather in Paris?' }];

  test("toolChoice 'required': every turn is tool calls with valid arguments (seeds x temperatures x templates)", async () => {
    const qwen = REAL[0] ? fs.readFileSync(path.join(TEMPLATES, REAL[0]), 'utf8') : undefined;
    for (const chatTemplate of [undefined, qwen]) {
      for (let seed = 0; seed < 6; seed++) {
        for (const temperature of [0, 1, 1.5]) {
          const r = seed % 2 ? await model.chatWithTools(user, { tools: TOOLS, toolChoice: 'required', seed, temperature, maxTokens: 400, chatTemplate }) : await chatWithTools(model, user, { tools: TOOLS, toolChoice: 'required', seed, temperature, maxTokens: 400, chatTemplate });
          expect(['grammar', 'eog']).toContain(r.stopReason); // after one block the grammar may end (or take more)
          expect(r.toolCalls.length).toBeGreaterThanOrEqual(1);
          for (const c of r.toolCalls) expect({ c, valid: validators[c.name](c.arguments) }).toEqual({ c, valid: true });
        }
      }
    }
  });

  test('toolChoice { name } and parallelToolCalls false: exactly one call of that tool; the stream gives the raw JSON then the call', async () => {
    for (let seed = 0; seed < 5; seed++) {
      const events = [];
      for await (const e of chatWithToolsStream(model, user, { tools: TOOLS, toolChoice: { name: 'add' }, parallelToolCalls: false, seed, temperature: 1, maxTokens: 200 })) events.push(e);
      const calls = events.filter((e) => e.type === 'tool_call');
      expect(calls.length).toBe(1);
      const call = (calls[0] as { call: { name: string; arguments: Record<string, unknown> } }).call;
      expect(call.name).toBe('add');
      expect(validators.add(call.arguments)).toBe(true);
      const raw = events.filter((e) => e.type === 'tool_call_delta').map((e) => (e as { text: string }).text).join('');
      expect(JSON.parse(raw)).toEqual(call);
      expect(events.filter((e) => e.type === 'content').map((e) => (e as { text: string }).text).join('').trim()).toBe('');
    }
  });

  test('Llama 3.1 template on a synthetic llama model: a forced call streams as JSON and parses', async () => {
    if (!LLAMA3.length) return;
    const file = path.join(tmp, 'llama.gguf');
    writeSyntheticModel(file, { arch: 'llama', dim: 64, nLayer: 1, nHead: 1, nHeadKv: 1, ffDim: 128, ctxLen: 2048, seed: 4 });
    const llama = await load(file);
    try {
      const chatTemplate = fs.readFileSync(path.join(TEMPLATES, LLAMA3[0]), 'utf8');
      for (let seed = 0; seed < 6; seed++) {
        const events = [];
        for await (const e of chatWithToolsStream(llama, user, { tools: TOOLS, toolChoice: 'required', chatTemplate, seed, temperature: 1, maxTokens: 300 })) events.push(e);
        const calls = events.filter((e) => e.type === 'tool_call').map((e) => (e as { call: { name: string; arguments: Record<string, unknown> } }).call);
        expect(calls.length).toBe(1);
        expect(validators[calls[0].name](calls[0].arguments)).toBe(true);
        const raw = events.filter((e) => e.type === 'tool_call_delta').map((e) => (e as { text: string }).text).join('');
        expect(JSON.parse(raw)).toEqual({ name: calls[0].name, parameters: calls[0].arguments });
      }
    } finally {
      llama.dispose();
    }
  });

  test('Mistral Nemo template on the synthetic model: forced calls stream and parse', async () => {
    const file = path.join(TEMPLATES, 'mistralai-Mistral-Nemo-Instruct-2407.jinja');
    if (!fs.existsSync(file)) return;
    const chatTemplate = fs.readFileSync(file, 'utf8');
    for (let seed = 0; seed < 6; seed++) {
      const events = [];
      for await (const e of chatWithToolsStream(model, user, { tools: TOOLS, toolChoice: 'required', chatTemplate, seed, temperature: 1, maxTokens: 400 })) events.push(e);
      const calls = events.filter((e) => e.type === 'tool_call').map((e) => (e as { call: { name: string; arguments: Record<string, unknown> } }).call);
      expect(calls.length).toBeGreaterThanOrEqual(1);
      for (const c of calls) expect(validators[c.name](c.arguments)).toBe(true);
    }
  });

  test("'auto' and 'none' run free generation; option errors", async () => {
    const r = await chatWithTools(model, user, { tools: TOOLS, toolChoice: 'none', maxTokens: 10 });
    expect(r.toolCalls).toEqual([]);
    expect(typeof r.content).toBe('string');
    // 'auto': free text under the auto grammar; any call the model opens parses and validates
    for (let seed = 0; seed < 6; seed++) {
      const a = await chatWithTools(model, user, { tools: TOOLS, maxTokens: 60, seed, temperature: 1.5, topK: 0, minP: 0, topP: 1 });
      for (const c of a.toolCalls) expect(validators[c.name](c.arguments)).toBe(true);
      expect(a.content.includes('<tool_call>')).toBe(false);
    }
    await expect(chatWithTools(model, user, { tools: [] })).rejects.toThrow(TypeError);
    await expect(chatWithTools(model, user, { tools: TOOLS, toolChoice: { name: 'rm' } })).rejects.toThrow(new RangeError('chatWithTools: Expected one of the tools (get_weather, add) for opts.toolChoice.name but received \'rm\''));
    await expect(chatWithTools(model, user, { tools: TOOLS, toolChoice: 'always' as never })).rejects.toThrow(TypeError);
    await expect(chatWithTools(model, user, { tools: TOOLS, toolChoice: 'required', json: true })).rejects.toThrow("chatWithTools: toolChoice 'required' sets the grammar; opts.grammar, opts.jsonSchema and opts.json cannot be given with it");
    await expect(chatWithTools(model, user, { tools: TOOLS, chatTemplate: "{{ 'no tools here' }}" })).rejects.toThrow(/has no tool-call format fuselm knows/);
    await expect(chatWithTools(model, user, { tools: [TOOLS[0], TOOLS[0]] })).rejects.toThrow(RangeError);
  });
});
