// The bench registry: one import and one list entry per kernel family.
// A family's file (lib/bench/<family>.ts) exports `entries: BenchEntry[]`.
import { BenchEntry } from './entry';
import * as norm from './norm';
import * as elementwise from './elementwise';
import * as lut from './lut';
import * as attention from './attention';
import * as rope from './rope';
import * as embed from './embed';
import * as qgemm from './qgemm';
import * as moe from './moe';
import * as mask from './mask';

export const FAMILIES: ReadonlyArray<{ family: string; entries: BenchEntry[] }> = [
  { family: 'norm', entries: norm.entries },
  { family: 'elementwise', entries: elementwise.entries },
  { family: 'lut', entries: lut.entries },
  { family: 'attention', entries: attention.entries },
  { family: 'rope', entries: rope.entries },
  { family: 'embed', entries: embed.entries },
  { family: 'qgemm', entries: qgemm.entries },
  { family: 'moe', entries: moe.entries },
  { family: 'mask', entries: mask.entries },
];
