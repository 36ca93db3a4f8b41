// N-API for file mapping. A file is mapped once, whole, and JavaScript gets
// windows into that one mapping as external ArrayBuffers:
//
//   mmapOpen(path) -> handle          maps the file (one mmap), the handle holds a reference
//   mmapSize(handle) -> number        the file's size in bytes
//   mmapWindow(handle, offset, length) -> ArrayBuffer over bytes [offset, offset + length)
//   mmapClose(handle)                 drops the handle's reference now (idempotent)
//   mmapFile(path) -> ArrayBuffer     the whole file as one window (files up to 4 GiB)
//
// The mapping is refcounted: the handle holds one reference and every window
// ArrayBuffer another, so the bytes are unmapped only when the handle is closed
// (or collected) and the last window is collected. A window is at most 4 GiB:
// Node 20 (V8 11) makes no external ArrayBuffer larger than buffer.constants.
// MAX_LENGTH (2^32; napi makes external ArrayBuffers through node::Buffer), and a
// failed creation aborted the process with a double free in node-addon-api's
// cleanup, so a window over the limit is refused here, before V8 is asked, and
// windows are made with the plain napi call (no node-addon-api finalizer data).
//
// The mapping is PROT_READ|PROT_WRITE, MAP_PRIVATE (copy-on-write): the file is
// never modified, and a stray write from JavaScript copies one page instead of
// killing the process with SIGSEGV (JavaScript has no read-only ArrayBuffer).
// Pages are only committed when written, so an untouched mapping costs no RAM
// beyond the page cache, and windows cost only address space.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_set>

#include "napi/args.h"

namespace fuselm {
namespace napi {

// the largest window: one external ArrayBuffer in Node 20
constexpr uint64_t kMaxWindowBytes = (uint64_t)1 << 32;

namespace {

struct Mapping {
  void* addr = nullptr;
  size_t len = 0;
  std::atomic<int64_t> refs{1};
};
void release(Mapping* m) {
  // windows may be finalized on another thread (a transferred buffer): the count is atomic
  if (m->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (m->addr && m->len) munmap(m->addr, m->len);
    delete m;
  }
}

// The handle: an External over a Box, which holds the handle's reference until
// mmapClose or the GC finalizer. Boxes are registered so that any other External
// passed as a handle is recognised and refused.
struct Box {
  Mapping* m = nullptr;  // null once closed
};
std::mutex boxes_mu;
std::unordered_set<Box*>& boxes() {
  static std::unordered_set<Box*> s;
  return s;
}

std::string sys_error(const char* fn, const char* what, const std::string& path, int err) {
  return std::string(fn) + ": " + what + " '" + path + "' failed: " + std::strerror(err);
}

// Opens and maps `path` (nullptr mapping for an empty file). Throws JS errors naming `fn`.
Mapping* map_file(const Args& a, const std::string& path) {
  Napi::Env env = a.env();
  if (path.empty() || path.find('\0') != std::string::npos) a.range_error("path", "a non-empty file path", "'" + path + "'");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Napi::Error::New(env, sys_error(a.fn(), "open", path, errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Napi::Error::New(env, sys_error(a.fn(), "fstat", path, e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    a.type_error("path", "a regular file", "'" + path + "' (not a regular file)");
  }
  // offsets travel as JS numbers: a file must stay below 2^53 bytes (and fit the address space)
  if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)SIZE_MAX / 2 || (uint64_t)st.st_size > ((uint64_t)1 << 53)) {
    ::close(fd);
    a.range_error("path", "a file that fits in the address space", std::to_string((long long)st.st_size) + " bytes");
  }
  Mapping* m = new Mapping;
  m->len = (size_t)st.st_size;
  if (m->len == 0) {
    ::close(fd);
    return m;
  }
  void* addr = ::mmap(nullptr, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (addr == MAP_FAILED) {
    delete m;
    throw Napi::Error::New(env, sys_error(a.fn(), "mmap", path, e));
  }
  m->addr = addr;
  return m;
}

void finalize_window(napi_env, void*, void* hint) { release(static_cast<Mapping*>(hint)); }

// An external ArrayBuffer over m's bytes [off, off + len), holding a reference.
// The caller has validated off + len <= m->len and len <= kMaxWindowBytes.
Napi::Value window(const Args& a, Mapping* m, uint64_t off, uint64_t len) {
  Napi::Env env = a.env();
  if (len == 0) return Napi::ArrayBuffer::New(env, 0);
  m->refs.fetch_add(1, std::memory_order_relaxed);
  napi_value ab = nullptr;
  napi_status s = napi_create_external_arraybuffer(env, static_cast<uint8_t*>(m->addr) + off, (size_t)len, finalize_window, m, &ab);
  if (s != napi_ok) {
    // Node may already have called finalize_window (it frees on failure): leave the
    // reference alone (at worst the mapping outlives its use) rather than risk a double release
    throw Napi::Error::New(env, std::string(a.fn()) + ": Node could not make an external ArrayBuffer of " + std::to_string(len) +
                                    " bytes (napi status " + std::to_string((int)s) + ")");
  }
  return Napi::Value(env, ab);
}

Box* box_arg(const Napi::CallbackInfo& info, const Args& a, size_t i) {
  Napi::Value v = info[i];
  if (!v.IsExternal()) a.type_error("handle", "a mapped-file handle from mmapOpen", describe(v));
  Box* b = v.As<Napi::External<Box>>().Data();
  std::lock_guard<std::mutex> lock(boxes_mu);
  if (!boxes().count(b)) a.type_error("handle", "a mapped-file handle from mmapOpen", "another external value");
  return b;
}

Mapping* live_arg(const Napi::CallbackInfo& info, const Args& a, size_t i) {
  Box* b = box_arg(info, a, i);
  if (!b->m) throw Napi::Error::New(a.env(), std::string(a.fn()) + ": Expected an open mapped-file handle for handle but received a closed one");
  return b->m;
}

}  // namespace

// mmapOpen(path: string) -> handle
static Napi::Value MmapOpen(const Napi::CallbackInfo& info) {
  Args a(info, "mmapOpen");
  a.count(1);
  std::string path = a.string(0, "path");
  Mapping* m = map_file(a, path);
  Box* b = new Box{m};
  {
    std::lock_guard<std::mutex> lock(boxes_mu);
    boxes().insert(b);
  }
  return Napi::External<Box>::New(info.Env(), b, [](Napi::Env, Box* b) {
    {
      std::lock_guard<std::mutex> lock(boxes_mu);
      boxes().erase(b);
    }
    if (b->m) release(b->m);
    delete b;
  });
}

// mmapSize(handle) -> number of bytes in the file
static Napi::Value MmapSize(const Napi::CallbackInfo& info) {
  Args a(info, "mmapSize");
  a.count(1);
  return Napi::Number::New(info.Env(), (double)live_arg(info, a, 0)->len);
}

// mmapWindow(handle, offset, length) -> ArrayBuffer over file bytes [offset, offset + length)
static Napi::Value MmapWindow(const Napi::CallbackInfo& info) {
  Args a(info, "mmapWindow");
  a.count(3);
  Mapping* m = live_arg(info, a, 0);
  uint64_t size = m->len;
  uint64_t off = (uint64_t)a.integer(1, "offset", 0, (int64_t)size);
  uint64_t left = size - off;
  uint64_t most = left < kMaxWindowBytes ? left : kMaxWindowBytes;
  Napi::Value lv = info[2];
  std::string range = "integer in [0, " + std::to_string(most) + "] (the " + std::to_string(left) + " bytes of the " + std::to_string(size) +
                      "-byte file after offset " + std::to_string(off) + ", at most 4294967296 per window)";
  if (!lv.IsNumber()) a.type_error("length", range, describe(lv));
  double d = lv.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > (double)most) a.range_error("length", range, describe(lv));
  return window(a, m, off, (uint64_t)d);
}

// mmapClose(handle): drops the handle's reference; windows keep the bytes mapped until collected
static Napi::Value MmapClose(const Napi::CallbackInfo& info) {
  Args a(info, "mmapClose");
  a.count(1);
  Box* b = box_arg(info, a, 0);
  Mapping* m = nullptr;
  {
    std::lock_guard<std::mutex> lock(boxes_mu);
    m = b->m;
    b->m = nullptr;
  }
  if (m) release(m);
  return info.Env().Undefined();
}

// mmapFile(path: string) -> ArrayBuffer (external, length = file size, at most 4 GiB)
static Napi::Value MmapFile(const Napi::CallbackInfo& info) {
  Args a(info, "mmapFile");
  a.count(1);
  std::string path = a.string(0, "path");
  Mapping* m = map_file(a, path);
  if ((uint64_t)m->len > kMaxWindowBytes) {
    size_t len = m->len;
    release(m);
    a.range_error("path", "a file of at most 4294967296 bytes (one ArrayBuffer; map larger files with mmapOpen and mmapWindow)",
                  "'" + path + "' of " + std::to_string((unsigned long long)len) + " bytes");
  }
  Napi::Value ab;
  try {
    ab = window(a, m, 0, m->len);
  } catch (...) {
    release(m);
    throw;
  }
  release(m);  // the window holds the mapping now
  return ab;
}

FL_NAPI_REGISTER(init_mmap) {
  exports.Set("mmapFile", Napi::Function::New(env, MmapFile, "mmapFile"));
  exports.Set("mmapOpen", Napi::Function::New(env, MmapOpen, "mmapOpen"));
  exports.Set("mmapSize", Napi::Function::New(env, MmapSize, "mmapSize"));
  exports.Set("mmapWindow", Napi::Function::New(env, MmapWindow, "mmapWindow"));
  exports.Set("mmapClose", Napi::Function::New(env, MmapClose, "mmapClose"));
}

}  // namespace napi
}  // namespace fuselm
