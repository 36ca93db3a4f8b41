// The pre-tokenizers of llama.cpp's BPE vocabularies (src/llama-vocab.cpp, src/unicode.cpp):
// tokenizer.ggml.pre names a type, the type a list of regexes applied in turn, each splitting
// the pieces the previous one left (text between matches stays a piece of its own), and a few
// flags. Seven regexes have hand-written matchers in llama.cpp (GPT-2's, Llama 3's, Qwen2's,
// Qwen3.5's, Kimi-K2's, AFMoE's digit groups and the newline runs); the others run on
// std::regex after llama.cpp rewrites the text and the regex:
//   - with a \p{..} class, every code point >= 128 becomes one byte standing for its category
//     (0xD1 number, 0xD2 letter, 0xD3 punctuation, 0xD4 mark, 0xD5 symbol, 0x0B whitespace,
//     0xD0 anything else) and \p{X} becomes that byte plus X's ASCII members (\p{Lu}, \p{Ll}, ...
//     all mean "letter");
//   - without one, it runs on code points with every non-ASCII whitespace read as 0x0B.
// fuselm does both rewrites the same way and runs the result on JavaScript's RegExp, whose
// ECMAScript syntax std::regex's default grammar shares; \s and \S become their ASCII sets so
// that they mean what std::regex's do. The hand-written matchers are ported as functions.
import { CpFlag, codePoints, cpFlags, fromCodePoints, isHan, toLower } from './unicode';

/** What a pre-tokenizer type asks of the BPE tokenizer besides its regexes. */
export interface PreTokenizer {
  /** llama.cpp's LLAMA_VOCAB_PRE_TYPE_* name */
  type: string;
  /** the regexes, in llama.cpp's spelling */
  regexes: readonly string[];
  /** a piece that is a whole token is taken as is, without merging (llama3, tekken, ...) */
  ignoreMerges: boolean;
  /** detokenize removes spaces before punctuation and contractions */
  cleanSpaces: boolean;
  /** BOS is added unless the file says otherwise */
  addBos: boolean;
  /** a SEP/EOS token ends the sequence unless the file says otherwise (RoBERTa-style) */
  addSep: boolean;
  /** ' ' is written '▁' before splitting (SPM-style BPE: gemma4) */
  escapeWhitespaces: boolean;
  /** pieces are GPT-2 byte-encoded before merging (false: raw UTF-8, bytes as <0xXX>) */
  byteEncode: boolean;
  /** BOS is no token at all (chatglm-bpe, glm4) */
  noBos: boolean;
}

const TYPE_REGEXES: [...string[], string[]][] = [
  // LLAMA3, DBRX, SMAUG, CHATGLM4
  ['LLAMA3', 'DBRX', 'SMAUG', 'CHATGLM4', [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // JAIS2
  ['JAIS2', [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}",
  ]],
  // DEEPSEEK_LLM
  ['DEEPSEEK_LLM', [
    "[\r\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
  ]],
  // DEEPSEEK3_LLM, HUNYUAN_DENSE, JOYAI_LLM
  ['DEEPSEEK3_LLM', 'HUNYUAN_DENSE', 'JOYAI_LLM', [
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // YOUTU
  ['YOUTU', [
    "[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // DEEPSEEK_CODER
  ['DEEPSEEK_CODER', [
    "[\r\n]",
    "\\s?\\p{L}+",
    "\\s?\\p{P}+",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}",
  ]],
  // FALCON
  ['FALCON', [
    "[\\p{P}\\$\\+<=>\\^~\\|`]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "[0-9][0-9][0-9]",
  ]],
  // STARCODER, REFACT, COMMAND_R, SMOLLM, CODESHELL, EXAONE, MINERVA, MELLUM2
  ['STARCODER', 'REFACT', 'COMMAND_R', 'SMOLLM', 'CODESHELL', 'EXAONE', 'MINERVA', 'MELLUM2', [
    "\\p{N}",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  ]],
  // GPT2, MPT, OLMO, JAIS, TRILLION, GRANITE_DOCLING
  ['GPT2', 'MPT', 'OLMO', 'JAIS', 'TRILLION', 'GRANITE_DOCLING', [
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  ]],
  // STABLELM2, QWEN2, HUNYUAN, SOLAR_OPEN, GROK_2
  ['STABLELM2', 'QWEN2', 'HUNYUAN', 'SOLAR_OPEN', 'GROK_2', [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // QWEN35
  ['QWEN35', [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // PORO, BLOOM, GPT3_FINNISH
  ['PORO', 'BLOOM', 'GPT3_FINNISH', [
    " ?[^(\\s|.,!?…。，、।۔،)]+",
  ]],
  // VIKING
  ['VIKING', [
    " ?[^(\\s|.,!?…。，、।۔،)]+",
    "\\p{N}",
  ]],
  // TEKKEN
  ['TEKKEN', [
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // CHAMELEON
  ['CHAMELEON', [
    "<sentinel:[0-9]+>",
    "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
    "([\\t\\n]|    |  )",
    "\\p{N}",
    "[\\p{P}!-/:-@\\[-`{-~]",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  ]],
  // GPT4O, MINIMAX_M2
  ['GPT4O', 'MINIMAX_M2', [
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // GRANITE_EMB_MULTI
  ['GRANITE_EMB_MULTI', [
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // TINY_AYA
  ['TINY_AYA', [
    "\\d{1,3}(?=(?:\\d{3})*\\b)",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // KIMI_K2
  ['KIMI_K2', [
    "\\p{Han}+",
  ]],
  // SUPERBPE
  ['SUPERBPE', [
    "\\p{N}+",
    "(?=(\\d{3})+(?!\\d))",
  ]],
  // BAILINGMOE
  ['BAILINGMOE', [
    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
  ]],
  // SEED_CODER
  ['SEED_CODER', [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // AFMOE
  ['AFMOE', [
    "\\p{AFMoE_digits}",
    "[一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // LAGUNA
  ['LAGUNA', [
    "[^\\n]+|[\\n]+",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // EXAONE_MOE
  ['EXAONE_MOE', [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
  ]],
  // GEMMA4, SARVAM_MOE
  ['GEMMA4', 'SARVAM_MOE', [
    "[^\\n]+|[\\n]+",
  ]],
  // MINICPM5
  ['MINICPM5', [
    "\\p{N}{1,3}",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ]],
  // WHITESPACE
  ['WHITESPACE', [
    "\\S+",
  ]],
  // DEFAULT
  ['DEFAULT', [
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
  ]],
];

const REGEXES = new Map<string, readonly string[]>();
for (const row of TYPE_REGEXES) {
  const list = row[row.length - 1] as string[];
  for (const t of row.slice(0, -1) as string[]) REGEXES.set(t, list);
}

type Flags = Partial<Omit<PreTokenizer, 'type' | 'regexes'>>;
/** tokenizer.ggml.pre → [type, flags], as llama_vocab::impl::load maps them */
const NAMES: Record<string, [string, Flags?]> = {};
const name = (names: string[], type: string, flags: Flags = {}) => { for (const n of names) NAMES[n] = [type, flags]; };
const NOCLEAN: Flags = { cleanSpaces: false };
name(['default'], 'DEFAULT');
name(['minicpm5'], 'MINICPM5', { ignoreMerges: true });
name(['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'], 'LLAMA3', { ignoreMerges: true, addBos: true });
name(['deepseek-llm'], 'DEEPSEEK_LLM', NOCLEAN);
name(['deepseek-coder'], 'DEEPSEEK_CODER', NOCLEAN);
name(['deepseek-v3'], 'DEEPSEEK3_LLM', NOCLEAN);
name(['youtu'], 'YOUTU', { cleanSpaces: false, ignoreMerges: true });
name(['falcon'], 'FALCON');
name(['mpt'], 'MPT');
name(['starcoder'], 'STARCODER');
name(['gpt-2', 'phi-2', 'jina-es', 'jina-de', 'gigachat', 'jina-v2-es', 'jina-v2-de', 'a.x-4.0', 'mellum', 'modern-bert'], 'GPT2');
name(['jais-2'], 'JAIS2');
name(['gemma4', 'granite-embed-multi-311m'], 'GEMMA4', { escapeWhitespaces: true, byteEncode: false });
name(['sarvam-moe'], 'SARVAM_MOE', { escapeWhitespaces: true, cleanSpaces: false, byteEncode: false });
name(['jina-v1-en', 'jina-v2-code', 'roberta-bpe'], 'GPT2', { addSep: true });
name(['refact'], 'REFACT');
name(['command-r'], 'COMMAND_R', NOCLEAN);
name(['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2'], 'QWEN2', NOCLEAN);
name(['qwen35'], 'QWEN35', NOCLEAN);
name(['stablelm2'], 'STABLELM2');
name(['olmo'], 'OLMO');
name(['dbrx'], 'DBRX');
name(['smaug-bpe'], 'SMAUG');
name(['poro-chat'], 'PORO', NOCLEAN);
name(['glm4', 'chatglm-bpe'], 'CHATGLM4', { noBos: true });
name(['viking'], 'VIKING', NOCLEAN);
name(['jais'], 'JAIS');
name(['tekken'], 'TEKKEN', { cleanSpaces: false, ignoreMerges: true, addBos: true });
name(['smollm'], 'SMOLLM', NOCLEAN);
name(['codeshell'], 'CODESHELL');
name(['bloom'], 'BLOOM');
name(['gpt3-finnish'], 'GPT3_FINNISH');
name(['exaone'], 'EXAONE');
name(['exaone4'], 'GPT2');
name(['exaone-moe'], 'EXAONE_MOE');
name(['chameleon'], 'CHAMELEON', { addBos: true, cleanSpaces: false });
name(['minerva-7b'], 'MINERVA');
name(['megrez'], 'QWEN2');
name(['gpt-4o', 'llama4', 'kanana2', 'talkie'], 'GPT4O', NOCLEAN);
name(['granite-embed-multi-97m'], 'GRANITE_EMB_MULTI', { cleanSpaces: false, ignoreMerges: true });
name(['tiny_aya', 'cohere2moe'], 'TINY_AYA', NOCLEAN);
name(['superbpe'], 'SUPERBPE', NOCLEAN);
name(['trillion'], 'TRILLION', NOCLEAN);
name(['granite-docling'], 'GRANITE_DOCLING', NOCLEAN);
name(['bailingmoe', 'bailingmoe2', 'llada-moe'], 'BAILINGMOE', NOCLEAN);
name(['seed-coder'], 'SEED_CODER', NOCLEAN);
name(['hunyuan'], 'HUNYUAN', NOCLEAN);
name(['hunyuan-dense'], 'HUNYUAN_DENSE', NOCLEAN);
name(['joyai-llm'], 'JOYAI_LLM', NOCLEAN);
name(['kimi-k2'], 'KIMI_K2', NOCLEAN);
name(['grok-2'], 'GROK_2', NOCLEAN);
name(['afmoe'], 'AFMOE', NOCLEAN);
name(['laguna'], 'LAGUNA', NOCLEAN);
name(['minimax-m2'], 'MINIMAX_M2', NOCLEAN);
name(['solar-open'], 'SOLAR_OPEN', NOCLEAN);
name(['mellum2'], 'MELLUM2');

/** llama.cpp's pre-tokenizer types and their regexes. */
export function preTokenizerTypes(): ReadonlyMap<string, readonly string[]> { return REGEXES; }

/** Every tokenizer.ggml.pre value llama.cpp knows (and fuselm with it). */
export const PRE_TOKENIZER_NAMES: readonly string[] = Object.keys(NAMES);

/**
 * The pre-tokenizer llama.cpp uses for a BPE vocabulary's tokenizer.ggml.pre (missing or empty:
 * 'default'). An unknown name is a RangeError naming it.
 */
export function preTokenizer(pre: string | undefined): PreTokenizer {
  const key = pre === undefined || pre === '' ? 'default' : pre;
  const entry = Object.prototype.hasOwnProperty.call(NAMES, key) ? NAMES[key] : undefined;
  if (!entry) {
    throw new RangeError(`tokenizer: unknown pre-tokenizer type '${String(pre)}' (tokenizer.ggml.pre; llama.cpp's names: ${PRE_TOKENIZER_NAMES.join(', ')})`);
  }
  const [type, f = {}] = entry;
  return {
    type, regexes: REGEXES.get(type)!, ignoreMerges: f.ignoreMerges ?? false, cleanSpaces: f.cleanSpaces ?? true,
    addBos: f.addBos ?? false, addSep: f.addSep ?? false, escapeWhitespaces: f.escapeWhitespaces ?? false,
    byteEncode: f.byteEncode ?? true, noBos: f.noBos ?? false,
  };
}

// ---- the hand-written matchers ----------------------------------------------------------

type Splitter = (cps: readonly number[], offsets: readonly number[]) => number[];

/** Runs `body(begin, end, add)` on each piece; add(end) closes a piece at `end` (empty ones dropped). */
function eachPiece(offsets: readonly number[], body: (ini: number, end: number, add: (e: number) => number) => void): number[] {
  const out: number[] = [];
  let start = 0;
  for (const off of offsets) {
    const ini = start, end = start + off;
    start = end;
    let prev = ini;
    body(ini, end, (e) => { const len = e - prev; if (len > 0) out.push(len); prev = e; return len; });
  }
  return out;
}

const CR = 13, LF = 10, APOS = 0x27, SPACE = 0x20;
const OUT = -1;

/** 's 't 're 've 'm 'll 'd at pos (case-folded when `fold`): its length, else 0 */
function contraction(cps: readonly number[], pos: number, end: number, fold: boolean): number {
  if (cps[pos] !== APOS || pos + 1 >= end) return 0;
  const f = fold ? toLower : (c: number) => c;
  const n = f(cps[pos + 1]);
  if (n === 0x73 || n === 0x74 || n === 0x6d || n === 0x64) return 2;
  if (pos + 2 < end) {
    const nn = f(cps[pos + 2]);
    if ((n === 0x72 && nn === 0x65) || (n === 0x76 && nn === 0x65) || (n === 0x6c && nn === 0x6c)) return 3;
  }
  return 0;
}

/** 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
const splitGpt2: Splitter = (cps, offsets) => eachPiece(offsets, (ini, end, add) => {
  const cpt = (p: number) => (p >= ini && p < end ? cps[p] : OUT);
  const flags = (p: number) => (p >= ini && p < end ? cpFlags(cps[p]) : 0);
  for (let pos = ini; pos < end;) {
    const c = cps[pos];
    const k = contraction(cps, pos, end, false);
    if (k > 0) { pos += add(pos + k); continue; }
    let f2 = c === SPACE ? flags(pos + 1) : flags(pos);
    if (f2 & CpFlag.LETTER) {
      pos += c === SPACE ? 1 : 0;
      while (f2 & CpFlag.LETTER) f2 = flags(++pos);
      add(pos); continue;
    }
    if (f2 & CpFlag.NUMBER) {
      pos += c === SPACE ? 1 : 0;
      while (f2 & CpFlag.NUMBER) f2 = flags(++pos);
      add(pos); continue;
    }
    const other = (f: number) => !(f & (CpFlag.WHITESPACE | CpFlag.LETTER | CpFlag.NUMBER)) && f !== 0;
    if (other(f2)) {
      pos += c === SPACE ? 1 : 0;
      while (other(f2)) f2 = flags(++pos);
      add(pos); continue;
    }
    let nws = 0;
    while (flags(pos + nws) & CpFlag.WHITESPACE) nws++;
    if (nws > 1 && cpt(pos + nws) !== OUT) { pos += nws - 1; add(pos); continue; }
    if (nws > 0) { pos += nws; add(pos); continue; }
    add(++pos);
  }
});

/**
 * Llama 3's (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * and its relatives: Qwen2 (\p{N} one digit at a time) and Qwen3.5 (letters include \p{M}).
 */
function llama3Family(maxDigits: number, marks: boolean): Splitter {
  const WORD = CpFlag.LETTER | (marks ? CpFlag.ACCENT_MARK : 0);
  return (cps, offsets) => eachPiece(offsets, (ini, end, add) => {
    const cpt = (p: number) => (p >= ini && p < end ? cps[p] : OUT);
    const flags = (p: number) => (p >= ini && p < end ? cpFlags(cps[p]) : 0);
    for (let pos = ini; pos < end;) {
      const c = cps[pos];
      const f = cpFlags(c);
      const k = contraction(cps, pos, end, true);
      if (k > 0) { pos += add(pos + k); continue; }
      if (!(c === CR || c === LF || (f & CpFlag.NUMBER))) {
        if ((f & WORD) || (flags(pos + 1) & WORD)) {
          pos++;
          while (flags(pos) & WORD) pos++;
          add(pos); continue;
        }
      }
      if (f & CpFlag.NUMBER) {
        let i0 = pos;
        while (flags(pos) & CpFlag.NUMBER) { if (++pos - i0 >= maxDigits) { add(pos); i0 = pos; } }
        add(pos); continue;
      }
      const NOT = CpFlag.WHITESPACE | WORD | CpFlag.NUMBER;
      let f2 = c === SPACE ? flags(pos + 1) : f;
      if (!(f2 & NOT) && f !== 0) {
        pos += c === SPACE ? 1 : 0;
        while (!(f2 & NOT) && f2 !== 0) f2 = flags(++pos);
        let c2 = cpt(pos);
        while (c2 === CR || c2 === LF) c2 = cpt(++pos);
        add(pos); continue;
      }
      let nws = 0, lastRN = 0;
      while (flags(pos + nws) & CpFlag.WHITESPACE) {
        const c2 = cpt(pos + nws);
        if (c2 === CR || c2 === LF) lastRN = pos + nws + 1;
        nws++;
      }
      if (lastRN > 0) { pos = lastRN; add(pos); continue; }
      if (nws > 1 && cpt(pos + nws) !== OUT) { pos += nws - 1; add(pos); continue; }
      if (nws > 0) { pos += nws; add(pos); continue; }
      add(++pos);
    }
  });
}

/** Kimi-K2's [\p{Han}]+ | letter words without Han (+ contraction) | \p{N}{1,3} | ... */
const splitKimiK2: Splitter = (cps, offsets) => eachPiece(offsets, (ini, end, add) => {
  const cpt = (p: number) => (p >= ini && p < end ? cps[p] : OUT);
  const flags = (p: number) => (p >= ini && p < end ? cpFlags(cps[p]) : 0);
  const letterNotHan = (p: number) => (flags(p) & CpFlag.LETTER) !== 0 && !isHan(cpt(p));
  for (let pos = ini; pos < end;) {
    const c = cps[pos];
    const f = cpFlags(c);
    if (isHan(c)) { while (isHan(cpt(pos))) pos++; add(pos); continue; }
    const leadable = !(c === CR || c === LF || (f & (CpFlag.LETTER | CpFlag.NUMBER)));
    if (((f & CpFlag.LETTER) && !isHan(c)) || (leadable && letterNotHan(pos + 1))) {
      let lead = false;
      if (leadable) { lead = true; pos++; }
      let letters = false;
      while (letterNotHan(pos)) { letters = true; pos++; }
      if (letters || (!lead && letterNotHan(pos))) {
        if (!letters) pos++;
        while (letterNotHan(pos)) pos++;
        if (cpt(pos) === APOS && pos + 1 < end) pos += contraction(cps, pos, end, true);
        add(pos); continue;
      } else if (lead) pos--;
    }
    if (f & CpFlag.NUMBER) {
      let i0 = pos;
      while (flags(pos) & CpFlag.NUMBER) { if (++pos - i0 >= 3) { add(pos); i0 = pos; } }
      add(pos); continue;
    }
    const NOT = CpFlag.WHITESPACE | CpFlag.LETTER | CpFlag.NUMBER;
    let f2 = c === SPACE ? flags(pos + 1) : f;
    if (!(f2 & NOT) && f2 !== 0) {
      pos += c === SPACE ? 1 : 0;
      while (!(f2 & NOT) && f2 !== 0) f2 = flags(++pos);
      let c2 = cpt(pos);
      while (c2 === CR || c2 === LF) c2 = cpt(++pos);
      add(pos); continue;
    }
    let nws = 0, lastRN = 0;
    while (flags(pos + nws) & CpFlag.WHITESPACE) {
      const c2 = cpt(pos + nws);
      if (c2 === CR || c2 === LF) lastRN = pos + nws + 1;
      nws++;
    }
    if (lastRN > 0) { pos = lastRN; add(pos); continue; }
    if (nws > 1 && cpt(pos + nws) !== OUT) { pos += nws - 1; add(pos); continue; }
    if (nws > 0) { pos += nws; add(pos); continue; }
    add(++pos);
  }
});

/**
 * AFMoE's digit groups (also tiny_aya's \d{1,3}(?=(?:\d{3})*\b)): a run of n digits splits into
 * n % 3 leading digits then threes. As in llama.cpp, the text before a run joins its first group.
 */
const splitDigitGroups: Splitter = (cps, offsets) => eachPiece(offsets, (ini, end, add) => {
  for (let pos = ini; pos < end;) {
    if (cpFlags(cps[pos]) & CpFlag.NUMBER) {
      const d0 = pos;
      while (pos < end && (cpFlags(cps[pos]) & CpFlag.NUMBER)) pos++;
      const n = pos - d0;
      let cur = d0;
      if (n % 3 > 0) { add(cur + (n % 3)); cur += n % 3; }
      while (cur < d0 + n) { add(cur + 3); cur += 3; }
      continue;
    }
    pos++;
  }
  add(end);
});

/** [^\n]+|[\n]+ */
const splitNewlines: Splitter = (cps, offsets) => eachPiece(offsets, (ini, end, add) => {
  for (let pos = ini; pos < end;) {
    const nl = cps[pos] === LF;
    while (pos < end && (cps[pos] === LF) === nl) pos++;
    add(pos);
  }
});

const CUSTOM = new Map<string, Splitter>([
  ["'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", splitGpt2],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", llama3Family(3, false)],
  ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", llama3Family(3, false)],
  ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", llama3Family(1, false)],
  ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", llama3Family(1, true)],
  ['\\p{Han}+', splitKimiK2],
  ['\\p{AFMoE_digits}', splitDigitGroups],
  ['[^\\n]+|[\\n]+', splitNewlines],
  ['\\d{1,3}(?=(?:\\d{3})*\\b)', splitDigitGroups],
]);

// ---- the std::regex path ------------------------------------------------------------------

const UCAT: Record<string, [string, string]> = {
  // \p{X} -> [collapsed byte, its ASCII members]
  '\\p{N}': ['\u00d1', '0-9'],
  '\\p{L}': ['\u00d2', 'A-Za-z'],
  '\\p{P}': ['\u00d3', '!-#%-*,-/:-;?-@\\[-\\]_\\{\\}'],
  '\\p{M}': ['\u00d4', ''],
  '\\p{S}': ['\u00d5', '\\$\\+<->\\^`\\|~'],
  '\\p{Lu}': ['\u00d2', 'A-Za-z'], '\\p{Ll}': ['\u00d2', 'A-Za-z'], '\\p{Lt}': ['\u00d2', 'A-Za-z'],
  '\\p{Lm}': ['\u00d2', 'A-Za-z'], '\\p{Lo}': ['\u00d2', 'A-Za-z'],
};
const COLLAPSED_BY_CATEGORY: Record<number, number> = {
  [CpFlag.NUMBER]: 0xd1, [CpFlag.LETTER]: 0xd2, [CpFlag.PUNCTUATION]: 0xd3, [CpFlag.ACCENT_MARK]: 0xd4, [CpFlag.SYMBOL]: 0xd5,
};

const usesCategories = (re: string) => Object.keys(UCAT).some((k) => re.includes(k));

interface Compiled { re: RegExp; collapsed: boolean }
const compiled = new Map<string, Compiled>();

/** llama.cpp's rewrite of a regex for the collapsed text, in JavaScript's syntax. */
function collapseRegex(expr: string): string {
  for (const ch of expr) {
    if (ch.codePointAt(0)! >= 128) throw new RangeError(`tokenizer: the pre-tokenizer regex ${JSON.stringify(expr)} mixes unicode categories with non-ASCII characters, which llama.cpp does not support`);
  }
  let out = '';
  let inside = false;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '[' && (i === 0 || expr[i - 1] !== '\\')) { out += '['; inside = true; continue; }
    if (inside && c === ']' && expr[i - 1] !== '\\') { out += ']'; inside = false; continue; }
    if (c === '\\' && i + 3 < expr.length && expr[i + 1] === 'p' && expr[i + 2] === '{') {
      const close = expr.indexOf('}', i + 3);
      if (close >= 0 && close <= i + 10) {
        const cat = UCAT[expr.slice(i, close + 1)];
        if (cat) { out += (inside ? '' : '[') + cat[0] + cat[1] + (inside ? '' : ']'); i = close; continue; }
      }
    }
    out += c;
  }
  return out;
}

/** \s and \S as std::regex reads them once non-ASCII whitespace is 0x0B: ASCII only. */
function asciiSpaces(expr: string): string {
  let out = '';
  let inside = false;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '\\' && i + 1 < expr.length) {
      const n = expr[i + 1];
      if (n === 's') out += inside ? '\\t-\\r ' : '[\\t-\\r ]';
      else if (n === 'S') out += inside ? '\\x00-\\x08\\x0e-\\x1f\\x21-\\u{10ffff}' : '[^\\t-\\r ]';
      else out += c + n;
      i++;
      continue;
    }
    if (c === '[') inside = true;
    else if (c === ']') inside = false;
    out += c;
  }
  return out;
}

function compile(expr: string): Compiled {
  let c = compiled.get(expr);
  if (!c) {
    const collapsed = usesCategories(expr);
    try {
      c = collapsed ? { re: new RegExp(collapseRegex(expr), 'g'), collapsed } : { re: new RegExp(asciiSpaces(expr), 'gu'), collapsed };
    } catch (e) {
      if (e instanceof RangeError) throw e;
      throw new RangeError(`tokenizer: the pre-tokenizer regex ${JSON.stringify(expr)} does not compile: ${(e as Error).message}`);
    }
    compiled.set(expr, c);
  }
  return c;
}

/** llama.cpp's collapsed text: one UTF-16 unit per code point. */
function collapseText(cps: readonly number[]): string {
  const units = new Uint16Array(cps.length);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i];
    if (cp < 128) { units[i] = cp; continue; }
    const f = cpFlags(cp);
    units[i] = f & CpFlag.WHITESPACE ? 0x0b : (COLLAPSED_BY_CATEGORY[f & CpFlag.CATEGORIES] ?? 0xd0);
  }
  let s = '';
  for (let i = 0; i < units.length; i += 8192) s += String.fromCharCode(...units.subarray(i, i + 8192));
  return s;
}

/** Splits each piece by the regex's matches (std::regex_iterator over each piece). */
function regexSplitPieces(re: RegExp, text: string, unitOfCp: Int32Array | null, cpOfUnit: Int32Array | null, offsets: readonly number[]): number[] {
  const out: number[] = [];
  let start = 0;
  for (const off of offsets) {
    const a = unitOfCp ? unitOfCp[start] : start, b = unitOfCp ? unitOfCp[start + off] : start + off;
    const seg = text.slice(a, b);
    const toCp = (u: number) => (cpOfUnit ? cpOfUnit[a + u] - start : u);
    let last = 0;
    re.lastIndex = 0;
    for (let m = re.exec(seg); m !== null; m = re.exec(seg)) {
      const at = toCp(m.index);
      const len = toCp(m.index + m[0].length) - at;
      if (at > last) out.push(at - last);
      out.push(len);
      last = at + len;
      if (m[0].length === 0) re.lastIndex++;
    }
    if (last < off) out.push(off - last);
    start += off;
  }
  return out;
}

/**
 * llama.cpp's unicode_regex_split without the byte encoding: `text` cut into pieces by each of
 * `regexes` in turn. Returns the pieces' code point lengths over `cps` (empty pieces included,
 * as llama.cpp makes them for zero-width matches).
 */
export function splitCodePoints(cps: readonly number[], regexes: readonly string[]): number[] {
  let offsets = [cps.length];
  let collapsed: string | undefined;
  let wide: { text: string; unitOfCp: Int32Array; cpOfUnit: Int32Array } | undefined;
  for (const expr of regexes) {
    const custom = CUSTOM.get(expr);
    if (custom) { offsets = custom(cps, offsets); continue; }
    const c = compile(expr);
    if (c.collapsed) {
      collapsed ??= collapseText(cps);
      offsets = regexSplitPieces(c.re, collapsed, null, null, offsets);
    } else {
      if (!wide) {
        const unitOfCp = new Int32Array(cps.length + 1);
        const parts: string[] = [];
        let u = 0;
        for (let i = 0; i < cps.length; i++) {
          unitOfCp[i] = u;
          const cp = cps[i] > 0x7f && (cpFlags(cps[i]) & CpFlag.WHITESPACE) ? 0x0b : cps[i];
          parts.push(String.fromCodePoint(cp));
          u += cp > 0xffff ? 2 : 1;
        }
        unitOfCp[cps.length] = u;
        const cpOfUnit = new Int32Array(u + 1);
        for (let i = 0; i < cps.length; i++) { cpOfUnit[unitOfCp[i]] = i; if (unitOfCp[i + 1] - unitOfCp[i] === 2) cpOfUnit[unitOfCp[i] + 1] = i; }
        cpOfUnit[u] = cps.length;
        wide = { text: parts.join(''), unitOfCp, cpOfUnit };
      }
      offsets = regexSplitPieces(c.re, wide.text, wide.unitOfCp, wide.cpOfUnit, offsets);
    }
  }
  return offsets;
}

/** The pieces of `text` (as strings of code points) under llama.cpp's split by `regexes`. */
export function splitText(text: string, regexes: readonly string[]): string[] {
  const cps = codePoints(text);
  const out: string[] = [];
  let at = 0;
  for (const len of splitCodePoints(cps, regexes)) { out.push(fromCodePoints(cps, at, at + len)); at += len; }
  return out;
}
