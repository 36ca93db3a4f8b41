// Family `elementwise`: argument invariants and the split over the pool.
#include <string>

#include "fuselm/ops.h"

namespace fuselm {

static void report_elementwise(const void* p, void (*emit)(const char*, const char*, void*), void* u) {
  const ElementwiseTable& t = *(const ElementwiseTable*)p;
  emit("add", t.add.isa, u);
  emit("mul", t.mul.isa, u);
  emit("silu", t.silu.isa, u);
  emit("gelu", t.gelu.isa, u);
  emit("sigmoid", t.sigmoid.isa, u);
  emit("swiglu", t.swiglu.isa, u);
}
static const Dispatch<ElementwiseTable> elementwise_dispatch("elementwise", ref::fill_elementwise,
                                                             avx2::fill_elementwise, avx512::fill_elementwise,
                                                             report_elementwise);

// elements per thread below which splitting costs more than it saves
static constexpr int64_t kGrain = 1 << 15;

static const char* dtype_name(DType d) {
  const DTypeTraits* t = dtype_traits((int32_t)d);
  return t ? t->name : "an unknown dtype";
}

static Status check_input(const void* p, DType d, const char* arg, int64_t n) {
  if (elementwise_size(d) == 0)
    return Status::type(std::string(arg) + ".dtype", "'f32', 'f16' or 'bf16'", std::string("'") + dtype_name(d) + "'");
  if (n > 0 && !p) return Status::range(arg, "a non-null pointer", "null");
  return Status::Ok();
}

static const uint8_t* at(const void* p, DType d, int64_t i) { return (const uint8_t*)p + i * elementwise_size(d); }

static Status binary(BinaryFn fn, float* out, const void* a, DType ad, const void* b, DType bd, int64_t n, int64_t nb) {
  if (n < 0) return Status::range("n", "integer >= 0", std::to_string(n));
  FL_TRY(check_input(a, ad, "a", n));
  FL_TRY(check_input(b, bd, "b", nb));
  if (n == 0) return Status::Ok();
  if (!out) return Status::range("out", "a non-null pointer", "null");
  if (nb < 1 || nb > n || n % nb != 0)
    return Status::range("b", "n=" + std::to_string(n) + " elements or a row that divides it", std::to_string(nb));
  if (nb == n) {
    parallel_for(n, kGrain, [&](int64_t s, int64_t e, int) { fn(out + s, at(a, ad, s), ad, at(b, bd, s), bd, e - s); });
  } else {
    parallel_for(n / nb, kGrain / nb + 1, [&](int64_t s, int64_t e, int) {
      for (int64_t r = s; r < e; r++) fn(out + r * nb, at(a, ad, r * nb), ad, b, bd, nb);
    });
  }
  return Status::Ok();
}

static Status unary(UnaryFn fn, float* out, const void* x, DType d, int64_t n) {
  if (n < 0) return Status::range("n", "integer >= 0", std::to_string(n));
  FL_TRY(check_input(x, d, "x", n));
  if (n == 0) return Status::Ok();
  if (!out) return Status::range("out", "a non-null pointer", "null");
  parallel_for(n, kGrain, [&](int64_t s, int64_t e, int) { fn(out + s, at(x, d, s), d, e - s); });
  return Status::Ok();
}

Status add(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n, int64_t nb) {
  return binary(elementwise_dispatch().add.fn, out, a, ad, b, bd, n, nb);
}
Status mul(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n, int64_t nb) {
  return binary(elementwise_dispatch().mul.fn, out, a, ad, b, bd, n, nb);
}
Status silu(float* out, const void* x, DType d, int64_t n) { return unary(elementwise_dispatch().silu.fn, out, x, d, n); }
Status gelu(float* out, const void* x, DType d, int64_t n) { return unary(elementwise_dispatch().gelu.fn, out, x, d, n); }
Status sigmoid(float* out, const void* x, DType d, int64_t n) {
  return unary(elementwise_dispatch().sigmoid.fn, out, x, d, n);
}

Status swiglu(float* out, const void* gate, DType gd, const void* up, DType ud, int64_t rows, int64_t f,
              int64_t gate_stride, int64_t up_stride) {
  if (rows < 0) return Status::range("rows", "integer >= 0", std::to_string(rows));
  if (f < 0) return Status::range("f", "integer >= 0", std::to_string(f));
  if (gate_stride < f) return Status::range("gate_stride", "integer >= f=" + std::to_string(f), std::to_string(gate_stride));
  if (up_stride < f) return Status::range("up_stride", "integer >= f=" + std::to_string(f), std::to_string(up_stride));
  const int64_t n = rows * f;
  FL_TRY(check_input(gate, gd, "gate", n));
  FL_TRY(check_input(up, ud, "up", n));
  if (n == 0) return Status::Ok();
  if (!out) return Status::range("out", "a non-null pointer", "null");
  BinaryFn fn = elementwise_dispatch().swiglu.fn;
  if (gate_stride == f && up_stride == f) {
    parallel_for(n, kGrain, [&](int64_t s, int64_t e, int) { fn(out + s, at(gate, gd, s), gd, at(up, ud, s), ud, e - s); });
  } else {
    parallel_for(rows, kGrain / f + 1, [&](int64_t s, int64_t e, int) {
      for (int64_t r = s; r < e; r++) fn(out + r * f, at(gate, gd, r * gate_stride), gd, at(up, ud, r * up_stride), ud, f);
    });
  }
  return Status::Ok();
}

}  // namespace fuselm
