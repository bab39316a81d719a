#include <fmt/format.h>

#include "retention/run.h"

namespace retention {

std::string GuardReason(const BindingPlan& bp, const Binding& b) {
  int64_t due = bp.DueTotal();
  double fraction = bp.total_rows ? static_cast<double>(due) / static_cast<double>(bp.total_rows) : 0;
  if (due > b.guard.max_rows) return fmt::format("{} rows due, above max_rows {}", due, b.guard.max_rows);
  if (due > 0 && fraction > b.guard.max_fraction)
    return fmt::format("{} of {} rows due ({:.1f}%), above max_fraction {:.1f}%", due, bp.total_rows, 100 * fraction,
                       100 * b.guard.max_fraction);
  return "";
}

}  // namespace retention
