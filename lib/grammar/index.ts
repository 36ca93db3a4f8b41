// Constrained generation: GBNF grammars, JSON Schema to grammar, the allowed-token mask.
export { GrammarError, parseGbnf, MAX_REPETITION } from './gbnf';
export type { GbnfRule, Item as GbnfItem } from './gbnf';
export { compileGbnf, CharSet } from './compile';
export type { Program, CompileOptions } from './compile';
export { Grammar, GrammarMatcher, GrammarState } from './grammar';
export type { GrammarOptions } from './grammar';
export { TokenVocab } from './vocab';
export { jsonSchemaToGbnf, JsonSchemaError, JSON_SCHEMA_FORMATS } from './json-schema';
export { autoToolGbnf, chatWithTools, chatWithToolsStream, parseToolCalls, toolCallGbnf, toolCallMessage, toolChatTokens, toolFormat, toolTemplate, HERMES_CHATML_TEMPLATE } from './tools';
export type { ToolDefinition, ToolCall, ToolChoice, ToolChatOptions, ToolChatResult, ToolChatEvent, ToolFormat } from './tools';
export { GrammarConstraint, resolveGrammar, JSON_OBJECT_SCHEMA } from './constraint';
export type { GrammarInput, GrammarChoice } from './constraint';
