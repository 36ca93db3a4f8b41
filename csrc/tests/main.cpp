// Native test runner: every registered case on every ISA level, no Node.
//   fuselm_tests [filter]
#include <cstring>

#include "tests/harness.h"

namespace fltest {
std::vector<Case>& cases() {
  static std::vector<Case> v;
  return v;
}
int failures = 0;
const char* current = "";

void for_each_isa(const std::function<void(int)>& fn) {
  const int before = fuselm::active_isa();
  for (int isa = 0; isa <= fuselm::isa_supported(); isa++) {
    fuselm::set_isa(isa);
    fn(isa);
  }
  fuselm::set_isa(before);
}
}  // namespace fltest

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int ran = 0;
  for (const auto& c : fltest::cases()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    fltest::current = c.name;
    const int before = fltest::failures;
    c.fn();
    ran++;
    std::printf("%s %s\n", fltest::failures == before ? "ok  " : "FAIL", c.name);
  }
  std::printf("%d cases, %d failed checks (best ISA: %s, threads: %d)\n", ran, fltest::failures,
              fuselm::isa_name(fuselm::isa_supported()), fuselm::n_threads());
  return fltest::failures == 0 ? 0 : 1;
}
