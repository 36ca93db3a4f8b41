// Files over 4 GiB: Node 20 makes no external ArrayBuffer (nor a typed array view)
// that large, and the failed external-buffer call used to abort the process
// (a double free in the cleanup). Now every reader throws a clear error instead.
// The file is sparse: no disk space is used.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readGguf, MAX_FILE_BYTES } from '../../lib/formats/gguf';
import { readSafetensors } from '../../lib/formats/safetensors';
import { native } from '../../lib/native';

const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-big-')), 'big.gguf');
beforeAll(() => {
  const fd = fs.openSync(file, 'w');
  fs.ftruncateSync(fd, MAX_FILE_BYTES + 1);
  fs.closeSync(fd);
});
afterAll(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));

test('a GGUF file over 4 GiB gets a RangeError naming the limit, not an abort', () => {
  expect(() => readGguf(file)).toThrow(RangeError);
  expect(() => readGguf(file)).toThrow(`readGguf: Expected a GGUF file of at most 4294967296 bytes`);
  expect(() => readGguf(file, { mmap: false })).toThrow(/of 4294967297 bytes/);
});

test('mmapFile refuses files over 4 GiB; safetensors reports it', () => {
  expect(() => native.mmapFile(file)).toThrow(/mmapFile: Expected a file of at most 4294967296 bytes.*of 4294967297 bytes/);
  expect(() => readSafetensors(file)).toThrow(/could not map.*at most 4294967296 bytes/);
});
