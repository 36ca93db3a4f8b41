import { cuda } from '../../lib';

// The npm addon is built by node-gyp without nvcc: the CUDA entry points come
// from csrc/core/cuda_stub.cpp, so both answers are false and calling them never
// throws. (The CUDA kernels themselves are tested natively: fuselm_tests cuda.)
describe('cuda', () => {
  test('built() and available() are booleans, and available() implies built()', () => {
    expect(typeof cuda.built()).toBe('boolean');
    expect(typeof cuda.available()).toBe('boolean');
    if (cuda.available()) expect(cuda.built()).toBe(true);
  });
  test('the node-gyp addon is CPU-only', () => {
    expect(cuda.built()).toBe(false);
    expect(cuda.available()).toBe(false);
  });
});
