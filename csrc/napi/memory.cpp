// N-API for weight memory: allocPages(bytes) -> ArrayBuffer of zeroed anonymous
// memory, 2 MiB-aligned and advised as transparent huge pages. Decode streams
// every weight once per token: with 4 KiB pages (a V8 ArrayBuffer's, where THP
// is "madvise") the walk costs a TLB miss every 4 KiB of the stream. The buffer
// is external: its finalizer unmaps it, and its size is reported to V8.
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "napi/args.h"

namespace fuselm {
namespace napi {

namespace {
constexpr uint64_t kHuge = (uint64_t)2 << 20;
constexpr uint64_t kMaxBytes = (uint64_t)1 << 32;  // the largest external ArrayBuffer in Node 20

struct Pages {
  void* base;      // what mmap returned
  size_t mapped;   // its length
  int64_t bytes;   // what was asked for (reported to V8)
};

void finalize_pages(napi_env env, void*, void* hint) {
  Pages* p = static_cast<Pages*>(hint);
  munmap(p->base, p->mapped);
  int64_t adjusted = 0;
  napi_adjust_external_memory(env, -p->bytes, &adjusted);
  delete p;
}
}  // namespace

// allocPages(bytes: integer in [1, 2^32]) -> ArrayBuffer
static Napi::Value AllocPages(const Napi::CallbackInfo& info) {
  Args a(info, "allocPages");
  a.count(1);
  const uint64_t bytes = (uint64_t)a.integer(0, "bytes", 1, (int64_t)kMaxBytes);
  const size_t mapped = (size_t)(bytes + kHuge);  // room to align the start to 2 MiB
  void* m = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    throw Napi::RangeError::New(a.env(), std::string("allocPages: Expected a size the system can map for bytes but received ") +
                                             std::to_string(bytes) + " (" + std::strerror(errno) + ")");
  }
  uint8_t* data = (uint8_t*)(((uintptr_t)m + (kHuge - 1)) & ~(uintptr_t)(kHuge - 1));
  madvise(data, (size_t)bytes, MADV_HUGEPAGE);  // advisory: without THP the pages are just 4 KiB
  Pages* p = new Pages{m, mapped, (int64_t)bytes};
  napi_value ab = nullptr;
  napi_status s = napi_create_external_arraybuffer(a.env(), data, (size_t)bytes, finalize_pages, p, &ab);
  if (s != napi_ok) {
    // Node may already have run the finalizer: leave the mapping (a leak at worst, never a double unmap)
    throw Napi::Error::New(a.env(), "allocPages: Node could not make an external ArrayBuffer of " + std::to_string(bytes) + " bytes");
  }
  int64_t adjusted = 0;
  napi_adjust_external_memory(a.env(), (int64_t)bytes, &adjusted);
  return Napi::Value(a.env(), ab);
}

FL_NAPI_REGISTER(init_memory) { exports.Set("allocPages", Napi::Function::New(env, AllocPages, "allocPages")); }

}  // namespace napi
}  // namespace fuselm
