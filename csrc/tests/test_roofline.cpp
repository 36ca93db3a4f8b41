// The roofline driver: every kind measures (or says the CPU lacks it), and bad
// arguments come back as a Status, never a crash.
#include "fuselm/roofline.h"
#include "tests/harness.h"

using namespace fuselm;

TEST(roofline_measures_every_kind) {
  for (int k = 0; k < (int)RoofKind::Count; k++) {
    for (int t : {1, 2}) {
      RoofFigure f;
      Status st = roofline_measure((RoofKind)k, t, int64_t(2) << 20, 1, 1, &f);
      CHECK(st.ok());
      CHECK(f.threads >= 1 && f.threads <= t);
      if (std::string(f.isa) == "none") CHECK(f.median == 0);
      else CHECK(f.median > 0 && f.best >= f.median);
    }
  }
}

TEST(roofline_rejects_bad_arguments) {
  RoofFigure f;
  CHECK(roofline_measure(RoofKind::Read, 0, 1 << 20, 1, 1, &f).code == Code::Range);
  CHECK(roofline_measure(RoofKind::Read, 1, 1000, 1, 1, &f).code == Code::Range);
  CHECK(roofline_measure(RoofKind::Read, 1, 1 << 20, 0, 1, &f).code == Code::Range);
  CHECK(roofline_measure(RoofKind::Fma, 1, 1 << 20, 1, 0.5, &f).code == Code::Range);
  CHECK(roofline_measure(RoofKind::Count, 1, 1 << 20, 1, 1, &f).code == Code::Range);
  RoofKind k;
  CHECK(roof_kind_parse("bf16", &k) && k == RoofKind::Bf16);
  CHECK(!roof_kind_parse("flops", &k));
  double v[4] = {3, 1, 4, 2};
  CHECK(median_of(v, 4) == 2.5);
}
