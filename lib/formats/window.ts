// Files as windows: Node 20 makes no ArrayBuffer (nor typed array) over 4 GiB, so
// the GGUF and safetensors readers hold a file as windows of at most
// MAX_WINDOW_BYTES. Window 0 starts at byte 0 and holds the header (and, for a
// file up to 4 GiB, the whole file); the tensors past it are packed in file order
// into further windows, each tensor whole in one. mmap'd, the file is mapped once
// and each window is a zero-copy view of that one mapping (csrc/napi/mmap.cpp:
// refcounted, unmapped when the handle is closed and the last window collected);
// read into memory, each window is its own ArrayBuffer, and only the header and
// the windows that hold tensors are read.
import * as fs from 'fs';

/** The largest window, and so the largest tensor: 4 GiB (one external ArrayBuffer, one typed array view in Node 20). */
export const MAX_WINDOW_BYTES = 2 ** 32;

/** Windows are split at gaps between tensors larger than this (so a file read into memory skips them). */
const WINDOW_GAP_BYTES = 64 * 2 ** 20;
/** A window starts at the first of these multiples at or below its first tensor that still fits. */
const WINDOW_ALIGNS = [4096, 64, 1];

/** One buffer holding the file bytes [fileOffset, fileOffset + byteLength). */
export interface FileWindow {
  /** file offset of the window's first byte */
  fileOffset: number;
  byteLength: number;
  buffer: ArrayBufferLike;
  /** where the window's first byte sits in `buffer` */
  byteOffset: number;
}

/** What a window holds: a named byte range of the file, and (once planned) its window. */
export interface Windowed {
  name: string;
  fileOffset: number;
  byteSize: number;
  /** index of the window holding the bytes; -1 for a range over MAX_WINDOW_BYTES */
  window: number;
}

/**
 * Assigns each range a window: window 0 is [0, firstBytes); ranges past it are packed in file
 * order into windows of at most MAX_WINDOW_BYTES, a new one at a gap over WINDOW_GAP_BYTES,
 * each starting page-aligned when that fits (so element alignment in the file is alignment in
 * memory). Ranges over MAX_WINDOW_BYTES get -1; empty ones 0. Returns the further windows' [start, end).
 */
export function planWindows(items: Windowed[], firstBytes: number): [number, number][] {
  const ranges: [number, number][] = [];
  const rest: Windowed[] = [];
  for (const t of items) {
    if (t.byteSize > MAX_WINDOW_BYTES) t.window = -1;
    else if (t.byteSize === 0 || t.fileOffset + t.byteSize <= firstBytes) t.window = 0;
    else rest.push(t);
  }
  rest.sort((a, b) => a.fileOffset - b.fileOffset);
  for (const t of rest) {
    const end = t.fileOffset + t.byteSize;
    const cur = ranges[ranges.length - 1];
    if (cur && t.fileOffset - cur[1] <= WINDOW_GAP_BYTES && end - cur[0] <= MAX_WINDOW_BYTES) {
      cur[1] = Math.max(cur[1], end);
    } else {
      let start = t.fileOffset;
      for (const a of WINDOW_ALIGNS) {
        const s = t.fileOffset - (t.fileOffset % a);
        if (end - s <= MAX_WINDOW_BYTES) { start = s; break; }
      }
      ranges.push([start, end]);
    }
    t.window = ranges.length; // windows[0] is the first window
  }
  return ranges;
}

/** The buffer and offset of a planned range; RangeError for one over 4 GiB. */
export function locate(windows: readonly FileWindow[], t: Windowed, fn: string, what: string): { buffer: ArrayBufferLike; offset: number } {
  if (t.byteSize > MAX_WINDOW_BYTES || t.window < 0) {
    throw new RangeError(`${fn}: Expected a tensor of at most ${MAX_WINDOW_BYTES} bytes (4 GiB: one ArrayBuffer in this Node) for name but received '${t.name}' of ${t.byteSize} bytes`);
  }
  const w = windows[t.window];
  if (w && t.fileOffset >= w.fileOffset && t.fileOffset + t.byteSize <= w.fileOffset + w.byteLength) {
    return { buffer: w.buffer, offset: w.byteOffset + t.fileOffset - w.fileOffset };
  }
  if (t.byteSize === 0) return { buffer: new ArrayBuffer(0), offset: 0 };
  throw new RangeError(`${fn}: Expected ${what} of this file for info but received '${t.name}', which no window of the file holds`);
}

/** A file to take windows from: mapped or read. */
export interface WindowSource {
  size: number;
  mapped: boolean;
  /** the bytes [offset, offset + length), length <= MAX_WINDOW_BYTES */
  get(offset: number, length: number): ArrayBuffer;
  /** drops the file (windows already taken stay valid) */
  close(): void;
}

/** Maps `path` once; windows are views of the mapping. Throws the native error when it cannot be mapped. */
export function mappedSource(path: string): WindowSource {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { native } = require('../native') as typeof import('../native');
  const handle = native.mmapOpen(path);
  return {
    size: native.mmapSize(handle),
    mapped: true,
    get: (o, n) => native.mmapWindow(handle, o, n),
    close: () => native.mmapClose(handle),
  };
}

/** Opens `path` for reading windows into memory. */
export function readSource(path: string, fn: string): WindowSource {
  const fd = fs.openSync(path, 'r');
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new TypeError(`${fn}: Expected a regular file for path but received '${path}'${st.isDirectory() ? ' (a directory)' : ''}`);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return {
    size: fs.fstatSync(fd).size,
    mapped: false,
    get: (o, n) => readAt(fd, o, n, path),
    close: () => fs.closeSync(fd),
  };
}

/** `length` bytes at `position` of an open file, in an own ArrayBuffer. */
export function readAt(fd: number, position: number, length: number, path: string): ArrayBuffer {
  const ab = new ArrayBuffer(length);
  const u8 = new Uint8Array(ab);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, u8, done, Math.min(length - done, 2 ** 30), position + done);
    if (n === 0) throw new Error(`read '${path}': the file ended at byte ${position + done}, expected ${length - done} more bytes (did it change while being read?)`);
    done += n;
  }
  return ab;
}
