// The C++ API below the N-API line: one header per op family, outputs first,
// sizes as int64_t, every entry returns a Status. No Node types here.
#pragma once
#include "fuselm/blocks.h"
#include "fuselm/cpu.h"
#include "fuselm/status.h"
#include "fuselm/ops/norm.h"
#include "fuselm/ops/qgemm.h"
#include "fuselm/ops/elementwise.h"
#include "fuselm/ops/moe.h"
#include "fuselm/ops/lut.h"
#include "fuselm/ops/attention.h"
#include "fuselm/ops/rope.h"
#include "fuselm/ops/embed.h"
