// Chat templates: tokenizer.chat_template (Jinja) rendered with @huggingface/jinja.
import { Template } from '@huggingface/jinja';
import { checkOptionKeys, keysOf } from '../check';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  content: string;
  /** an assistant turn's tool calls, in the OpenAI shape the templates read */
  tool_calls?: { id?: string; type?: 'function'; function: { name: string; arguments: unknown } }[];
  /** a tool result's tool name / call id */
  name?: string;
  tool_call_id?: string;
}

export interface ChatTemplateOptions {
  bosToken?: string;
  eosToken?: string;
  /** append the assistant's turn header (default true) */
  addGenerationPrompt?: boolean;
  /** tool definitions (OpenAI shape) the template renders, for templates that take `tools` */
  tools?: readonly unknown[];
}
const CHAT_TEMPLATE_KEYS = keysOf<ChatTemplateOptions>({ bosToken: 1, eosToken: 1, addGenerationPrompt: 1, tools: 1 });

// ChatML, the common fallback when a model ships no template
export const CHATML_TEMPLATE = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const cache = new Map<string, Template>();

/** Renders `messages` through a Jinja chat template. */
export function renderChat(template: string, messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
  if (typeof template !== 'string') throw new TypeError(`renderChat: Expected a template string for template but received ${typeof template}`);
  if (!Array.isArray(messages)) throw new TypeError('renderChat: Expected an array of {role, content} for messages');
  messages.forEach((m, i) => {
    if (!m || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new TypeError(`renderChat: Expected {role: string, content: string} for messages[${i}]`);
    }
  });
  opts = checkOptionKeys(opts, CHAT_TEMPLATE_KEYS, 'opts', 'renderChat');
  let t = cache.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new Error(`renderChat: the chat template does not parse: ${(e as Error).message}`);
    }
    cache.set(template, t);
  }
  return t.render({
    messages: messages.map((m) => ({ ...m })),
    bos_token: opts.bosToken ?? '',
    eos_token: opts.eosToken ?? '',
    add_generation_prompt: opts.addGenerationPrompt ?? true,
    ...(opts.tools ? { tools: opts.tools.map((t) => JSON.parse(JSON.stringify(t))) } : {}),
  });
}
