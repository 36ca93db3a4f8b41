// A vocabulary as the grammar sees it: every text token's bytes in a trie (built once per
// Tokenizer and cached), the end-of-generation ids, and the control tokens (no text: only a
// token reference `<[id]>` can allow them).
// The allowed-token mask of a grammar state is one walk of the trie: a subtree is entered
// only while the state's DFA (grammar.ts) accepts the bytes on the path, so the cost is the
// number of trie nodes the grammar lets through, not the vocabulary size times a check.
import { Tokenizer, TokenType } from '../tokenizer';
import { Grammar, GrammarState } from './grammar';
import { checkInt, fail } from '../check';

/** A trie in preorder: node i's subtree is nodes [i, end[i]); its children start at i + 1. */
interface Trie {
  byte: Uint8Array;
  end: Int32Array;
  /** tokens ending at node i: tokList[tokStart[i] .. tokStart[i + 1]) */
  tokStart: Int32Array;
  tokList: Int32Array;
}

const cache = new WeakMap<object, TokenVocab>();

export class TokenVocab {
  readonly size: number;
  /** mask words: ceil(size / 32) */
  readonly words: number;
  readonly eog: readonly number[];
  private readonly eogSet: Set<number>;
  private readonly bytes: (Uint8Array | null)[];
  private readonly trie: Trie;
  /** the walk's node stack (at most one entry per trie node on the current path's siblings) */
  private readonly stackNodes: Int32Array;

  /**
   * @param bytes each id's text as bytes, or null for a token with no text (control tokens)
   * @param eog the ids that end generation
   */
  constructor(bytes: (Uint8Array | null)[], eog: readonly number[]) {
    const fn = 'TokenVocab';
    if (!Array.isArray(bytes) || bytes.length === 0) fail('type', 'bytes', 'a non-empty array of Uint8Array or null per token', bytes, fn);
    bytes.forEach((b, i) => { if (b !== null && !(b instanceof Uint8Array)) fail('type', `bytes[${i}]`, 'a Uint8Array or null', b, fn); });
    if (!Array.isArray(eog)) fail('type', 'eog', 'an array of token ids', eog, fn);
    eog.forEach((id, i) => checkInt(id, `eog[${i}]`, 0, bytes.length - 1, fn));
    this.size = bytes.length;
    this.words = (this.size + 31) >>> 5;
    this.bytes = bytes;
    this.eog = [...eog];
    this.eogSet = new Set(eog);
    this.trie = buildTrie(bytes, this.eogSet);
    this.stackNodes = new Int32Array(this.trie.byte.length + 1);
  }

  /** The vocabulary of a tokenizer, built on first use and cached for its lifetime. */
  static of(tk: Tokenizer): TokenVocab {
    if (!(tk instanceof Tokenizer)) fail('type', 'tokenizer', 'a Tokenizer', tk, 'TokenVocab.of');
    let v = cache.get(tk);
    if (!v) {
      const bytes: (Uint8Array | null)[] = [];
      const eog: number[] = [];
      for (let id = 0; id < tk.vocabSize; id++) {
        const t = tk.tokenType(id);
        if (tk.isEog(id)) eog.push(id);
        bytes.push(t === TokenType.CONTROL || t === TokenType.UNKNOWN ? null : tk.tokenBytes(id));
      }
      v = new TokenVocab(bytes, eog);
      cache.set(tk, v);
    }
    return v;
  }

  isEog(id: number): boolean { return this.eogSet.has(id); }
  /** the token's text bytes; null for a control token */
  bytesOf(id: number): Uint8Array | null { return this.bytes[id] ?? null; }
  /** trie nodes (for reports) */
  get trieNodes(): number { return this.trie.byte.length; }

  /**
   * The tokens allowed from `state` of `grammar` as a bitmask (bit i of word i >> 5: token i).
   * EOG ids where the input may end; text tokens whose bytes the grammar accepts (a token may
   * end inside a code point whose leading bytes some allowed character starts with);
   * token references by id. Cached per state (the mask is read-only: copy it to change it).
   */
  allowed(grammar: Grammar, state: GrammarState): Uint32Array {
    if (!(grammar instanceof Grammar)) fail('type', 'grammar', 'a Grammar', grammar, 'TokenVocab.allowed');
    if (!(state instanceof GrammarState)) fail('type', 'state', "a GrammarState (a matcher's state)", state, 'TokenVocab.allowed');
    if (state.mask && state.maskOf === this) return state.mask;
    const m = new Uint32Array(this.words);
    const set = (id: number) => { m[id >>> 5] |= 1 << (id & 31); };
    if (state.accept && state.remain === 0) for (const id of this.eog) set(id);
    if (state.remain === 0 && state.tokens.length > 0) {
      const { kind, value } = grammar.program;
      for (const n of state.tokens) {
        const id = value[n.pos];
        if (kind[n.pos] === 3 /* El.TOKEN */) { if (id < this.size && !this.eogSet.has(id)) set(id); }
        else for (let t = 0; t < this.size; t++) if (t !== id && !this.eogSet.has(t)) set(t);
      }
    }
    const { byte, end, tokStart, tokList } = this.trie;
    // depth-first over the trie with an explicit stack: (node, its state); a child is entered
    // only while the DFA accepts its byte, and its tokens are allowed where it does
    const nodes = this.stackNodes, states: GrammarState[] = [];
    let sp = 0;
    nodes[0] = 0; states[0] = state; sp = 1;
    while (sp > 0) {
      sp--;
      const node = nodes[sp], s = states[sp];
      const e = end[node];
      let tr = s.trans;
      for (let c = node + 1; c < e; c = end[c]) {
        const b = byte[c];
        let t = tr !== undefined ? tr[b] : undefined;
        if (t === undefined) { t = grammar.step(s, b); tr = s.trans; }
        if (t === null) continue;
        for (let k = tokStart[c], ke = tokStart[c + 1]; k < ke; k++) { const id = tokList[k]; m[id >>> 5] |= 1 << (id & 31); }
        if (end[c] > c + 1) { nodes[sp] = c; states[sp] = t; sp++; }
      }
    }
    grammar.cacheMask(state, this, m);
    return m;
  }
}

function buildTrie(bytes: (Uint8Array | null)[], eog: Set<number>): Trie {
  const ids: number[] = [];
  let total = 1;
  for (let id = 0; id < bytes.length; id++) {
    const b = bytes[id];
    if (b && b.length > 0 && !eog.has(id)) { ids.push(id); total += b.length; }
  }
  // sort by the bytes as a latin1 string (code unit order is byte order), then id
  const keys = new Array<string>(bytes.length);
  for (const id of ids) {
    const b = bytes[id]!;
    let k = '';
    for (let i = 0; i < b.length; i++) k += String.fromCharCode(b[i]);
    keys[id] = k;
  }
  ids.sort((x, y) => (keys[x] < keys[y] ? -1 : keys[x] > keys[y] ? 1 : x - y));
  // sorted keys give the nodes in preorder; a node's tokens are the entries ending there,
  // which arrive while it is the newest node
  const byte = new Uint8Array(total), end = new Int32Array(total), tokStart = new Int32Array(total + 1);
  const tokList = new Int32Array(ids.length);
  let n = 1, nt = 0;
  const path: number[] = [0];
  let prev: Uint8Array = new Uint8Array(0);
  for (const id of ids) {
    const b = bytes[id]!;
    let lcp = 0;
    while (lcp < prev.length && lcp < b.length && prev[lcp] === b[lcp]) lcp++;
    while (path.length > lcp + 1) end[path.pop()!] = n;
    for (let d = lcp; d < b.length; d++) {
      byte[n] = b[d];
      tokStart[n] = nt;
      path.push(n++);
    }
    tokList[nt++] = id;
    prev = b;
  }
  while (path.length) end[path.pop()!] = n;
  tokStart[n] = nt;
  // tokStart of a node is where its tokens begin; nodes created after it begin after them
  return { byte: byte.subarray(0, n), end: end.subarray(0, n), tokStart: tokStart.subarray(0, n + 1), tokList };
}
