// WordPiece as llama.cpp's WPM tokenizer (tokenizer.ggml.model = "bert"): BERT's normalizer
// (lowercase, accents stripped by keeping the first code point of each NFD decomposition and
// dropping marks, control characters dropped), words split at whitespace, each punctuation mark,
// ASCII symbol and CJK ideograph a word of its own; then each word, written "▁word" (llama.cpp's
// converter stores WordPiece's "##x" continuation pieces as "x" and word starts as "▁x"), is cut
// greedily into the longest tokens from the left. A word with a character no token starts with
// is the unknown token.
import { CpFlag, codePoints, cpFlags, fromCodePoints, toLower } from './unicode';

const isChinese = (cp: number) =>
  (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df)
  || (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f)
  || (cp >= 0x2b920 && cp <= 0x2ceaf) // llama.cpp (after HF's Rust code) starts this one at 0x2B920
  || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);

/** nfdFirst of each BMP code point once computed (-1: not yet) */
const NFD_FIRST = new Int32Array(0x10000).fill(-1);

/** the first code point of cp's NFD form (llama.cpp's unicode_cpts_normalize_nfd) */
function nfdFirst(cp: number): number {
  if (cp < 0xc0) return cp;
  if (cp > 0xffff) return String.fromCodePoint(cp).normalize('NFD').codePointAt(0)!;
  let r = NFD_FIRST[cp];
  if (r < 0) r = NFD_FIRST[cp] = String.fromCodePoint(cp).normalize('NFD').codePointAt(0)!;
  return r;
}

/** how many words' ids Wpm keeps (then it starts again) */
const WORD_CACHE_SIZE = 1 << 16;

export class Wpm {
  /** the ids of words already cut: a word always gives the same ids, and words repeat in text */
  private readonly cache = new Map<string, number[]>();
  /** the length of the longest token starting with each UTF-16 code unit (0: none), so the cut tries no longer piece */
  private readonly longest = new Int32Array(0x10000);

  constructor(
    private readonly ids: ReadonlyMap<string, number>,
    private readonly lowercase: boolean,
    private readonly stripAccents: boolean,
    private readonly unk: number | undefined,
  ) {
    if (unk === undefined) throw new RangeError('tokenizer: a bert vocabulary needs a valid unknown_token_id ([UNK])');
    for (const t of ids.keys()) {
      const c = t.charCodeAt(0);
      if (t.length > this.longest[c]) this.longest[c] = t.length;
    }
  }

  /** llama.cpp's llm_tokenizer_wpm_session::preprocess: the normalized words. */
  words(text: string): string[] {
    const words: string[] = [];
    // the code points of the word being read, made a string once it ends
    const word: number[] = [];
    const end = () => { if (word.length > 0) { words.push(fromCodePoints(word)); word.length = 0; } };
    for (let cp of codePoints(text)) {
      if (this.stripAccents) cp = nfdFirst(cp);
      const f = cpFlags(cp);
      if (f & CpFlag.WHITESPACE) { end(); continue; }
      if (cp === 0 || cp === 0xfffd || (f & CpFlag.CONTROL)) continue;
      if (this.stripAccents && (f & CpFlag.ACCENT_MARK)) continue;
      const c = this.lowercase ? toLower(cp) : cp;
      if ((f & CpFlag.PUNCTUATION) || (cp < 0x7f && (f & CpFlag.SYMBOL)) || isChinese(cp)) {
        end();
        words.push(String.fromCodePoint(c));
      } else {
        word.push(c);
      }
    }
    end();
    return words;
  }

  tokenize(text: string, out: number[]): void {
    for (const word of this.words(text)) {
      if (word.length === 0) continue;
      const hit = this.cache.get(word);
      if (hit !== undefined) { for (const x of hit) out.push(x); continue; }
      const w = '\u2581' + word;
      const start = out.length;
      for (let i = 0; i < w.length;) {
        let matched = false;
        for (let j = Math.min(w.length, i + this.longest[w.charCodeAt(i)]); j > i; j--) {
          const id = this.ids.get(w.slice(i, j));
          if (id !== undefined) { out.push(id); i = j; matched = true; break; }
        }
        if (!matched) { out.length = start; break; }
      }
      if (out.length === start) out.push(this.unk!);
      if (this.cache.size >= WORD_CACHE_SIZE) this.cache.clear();
      this.cache.set(word, out.slice(start));
    }
  }
}
