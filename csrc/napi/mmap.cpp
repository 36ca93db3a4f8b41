// N-API for file mapping: mmapFile(path) -> ArrayBuffer over a private mapping
// of the whole file, zero-copy. The buffer is external: V8 does not own the
// bytes, and its finalizer unmaps them when the last view is collected.
//
// The mapping is PROT_READ|PROT_WRITE, MAP_PRIVATE (copy-on-write): the file is
// never modified, and a stray write from JavaScript copies one page instead of
// killing the process with SIGSEGV (JavaScript has no read-only ArrayBuffer).
// Pages are only committed when written, so an untouched mapping costs no RAM
// beyond the page cache.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "napi/args.h"

namespace fuselm {
namespace napi {

namespace {
struct Mapping {
  void* addr;
  size_t len;
};
void unmap(Napi::Env, void*, Mapping* m) {
  if (m->addr && m->len) munmap(m->addr, m->len);
  delete m;
}
std::string sys_error(const char* what, const std::string& path, int err) {
  return std::string("mmapFile: ") + what + " '" + path + "' failed: " + std::strerror(err);
}
}  // namespace

// mmapFile(path: string) -> ArrayBuffer (external, length = file size)
constexpr uint64_t kMaxMappedBytes = (uint64_t)1 << 32;

static Napi::Value MmapFile(const Napi::CallbackInfo& info) {
  Args a(info, "mmapFile");
  a.count(1);
  std::string path = a.string(0, "path");
  Napi::Env env = info.Env();
  if (path.empty() || path.find('\0') != std::string::npos) a.range_error("path", "a non-empty file path", "'" + path + "'");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Napi::Error::New(env, sys_error("open", path, errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Napi::Error::New(env, sys_error("fstat", path, e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    a.type_error("path", "a regular file", "'" + path + "' (not a regular file)");
  }
  if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)SIZE_MAX / 2) {
    ::close(fd);
    a.range_error("path", "a file that fits in the address space", std::to_string((long long)st.st_size) + " bytes");
  }
  // Node 20 (V8 11) makes no external ArrayBuffer over 4 GiB: the call fails
  // and node-addon-api's cleanup then double-frees (an abort, not an error)
  if ((uint64_t)st.st_size > kMaxMappedBytes) {
    ::close(fd);
    a.range_error("path", "a file of at most 4294967296 bytes (the largest ArrayBuffer Node maps; larger files are not supported yet)",
                  "'" + path + "' of " + std::to_string((long long)st.st_size) + " bytes");
  }
  size_t len = (size_t)st.st_size;
  if (len == 0) {
    ::close(fd);
    return Napi::ArrayBuffer::New(env, 0);
  }
  void* addr = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (addr == MAP_FAILED) throw Napi::Error::New(env, sys_error("mmap", path, e));
  Mapping* m = new Mapping{addr, len};
  return Napi::ArrayBuffer::New(env, addr, len, unmap, m);
}

FL_NAPI_REGISTER(init_mmap) { exports.Set("mmapFile", Napi::Function::New(env, MmapFile, "mmapFile")); }

}  // namespace napi
}  // namespace fuselm
