// A grammar bound to a tokenizer for sampling: the allowed-token mask at each step, and the
// matcher advanced by each sampled token. What Sampler and generate() use.
import { Tokenizer } from '../tokenizer';
import { fail } from '../check';
import { Grammar } from './grammar';
import { jsonSchemaToGbnf } from './json-schema';
import { TokenVocab } from './vocab';
import { GrammarMatcher } from './grammar';

/** A GBNF string or a compiled Grammar. */
export type GrammarInput = string | Grammar;

export interface GrammarChoice {
  /** a GBNF grammar (text or compiled) the output must match */
  grammar?: GrammarInput;
  /** a JSON Schema the output must be a JSON document of (see jsonSchemaToGbnf) */
  jsonSchema?: unknown;
  /** true: the output is a JSON object (OpenAI's json_object mode) */
  json?: boolean;
}

// compiled grammars by source text: repeated calls with the same schema share the DFA and masks
const compiled = new Map<string, Grammar>();
const MAX_COMPILED = 16;

function compile(src: string, tokenizer: Tokenizer | undefined): Grammar {
  const hasTokenRefs = /<[^[]/.test(src);
  // a grammar with <text> token references depends on the tokenizer: not shared
  if (hasTokenRefs) return new Grammar(src, { tokenizer });
  let g = compiled.get(src);
  if (g) { compiled.delete(src); compiled.set(src, g); return g; }
  g = new Grammar(src, { tokenizer });
  compiled.set(src, g);
  if (compiled.size > MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  return g;
}

/** The JSON object grammar of `{ json: true }`. */
export const JSON_OBJECT_SCHEMA = { type: 'object' } as const;

/**
 * The grammar named by at most one of `grammar`, `jsonSchema` and `json`; undefined for none.
 * `fn` names the caller in errors.
 */
export function resolveGrammar(o: GrammarChoice, tokenizer: Tokenizer | undefined, fn: string): Grammar | undefined {
  const given = (['grammar', 'jsonSchema', 'json'] as const).filter((k) => o[k] !== undefined && !(k === 'json' && o[k] === false));
  if (o.json !== undefined && typeof o.json !== 'boolean') fail('type', 'opts.json', 'a boolean', o.json, fn);
  if (given.length > 1) throw new TypeError(`${fn}: Expected at most one of opts.grammar, opts.jsonSchema and opts.json but received ${given.join(' and ')}`);
  if (o.grammar !== undefined) {
    if (o.grammar instanceof Grammar) return o.grammar;
    if (typeof o.grammar !== 'string') fail('type', 'opts.grammar', 'a GBNF string or a Grammar', o.grammar, fn);
    return compile(o.grammar, tokenizer);
  }
  if (o.jsonSchema !== undefined) return compile(jsonSchemaToGbnf(o.jsonSchema), tokenizer);
  if (o.json) return compile(jsonSchemaToGbnf(JSON_OBJECT_SCHEMA), tokenizer);
  return undefined;
}

export class GrammarConstraint {
  readonly grammar: Grammar;
  readonly vocab: TokenVocab;
  readonly matcher: GrammarMatcher;

  constructor(grammar: Grammar, tokenizer: Tokenizer) {
    if (!(grammar instanceof Grammar)) fail('type', 'grammar', 'a Grammar', grammar, 'GrammarConstraint');
    if (!(tokenizer instanceof Tokenizer)) fail('type', 'tokenizer', 'a Tokenizer (a grammar needs the vocabulary)', tokenizer, 'GrammarConstraint');
    this.grammar = grammar;
    this.vocab = TokenVocab.of(tokenizer);
    this.matcher = grammar.matcher();
  }

  /** the grammar is complete: nothing more can follow */
  get complete(): boolean { return this.matcher.complete; }
  /** the output may end here */
  get canEnd(): boolean { return this.matcher.canEnd; }

  /** The allowed-token bitmask at this step (read-only: shared with the grammar's cache). */
  allowed(): Uint32Array {
    const m = this.vocab.allowed(this.grammar, this.matcher.state);
    let any = 0;
    for (let i = 0; i < m.length && !any; i++) any = m[i];
    if (!any) {
      throw new Error('grammar: no token of the vocabulary continues the grammar here (the vocabulary lacks the bytes the grammar needs next)');
    }
    return m;
  }

  /** Advances over the sampled token; a token the grammar does not allow is an error. */
  accept(id: number): void {
    if (!this.matcher.acceptToken(id, this.vocab)) throw new RangeError(`grammar: token ${id} is not allowed by the grammar here`);
  }
}
