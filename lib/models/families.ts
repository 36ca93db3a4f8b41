// The registry: which family runs each architecture Config reads.
import { Arch } from './config';
import type { Family } from './family';
import { llama } from './llama';
import { qwen } from './qwen';
import { olmoe } from './olmoe';

const FAMILIES: Readonly<Record<Arch, Family>> = {
  llama, qwen2: qwen, qwen3: qwen, qwen2moe: qwen, qwen3moe: qwen, olmoe,
};

/** The family of `arch` (every Arch has one: tsc checks the table). */
export function familyOf(arch: Arch): Family {
  return FAMILIES[arch];
}
