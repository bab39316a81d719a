// What the report's renderings share (private to src/report/).
#pragma once

#include <string>

#include "retention/report.h"

namespace retention::report_internal {

inline constexpr Phase kActions[] = {Phase::kArchive, Phase::kPseudonymise, Phase::kDelete};

inline int64_t CountOf(const std::map<Phase, int64_t>& counts, Phase p) {
  auto it = counts.find(p);
  return it == counts.end() ? 0 : it->second;
}

inline int64_t DueOf(const BindingPlan& b, Phase p) {
  auto it = b.due.find(p);
  return it == b.due.end() ? 0 : it->second.count;
}

inline int64_t MissingOf(const BindingPlan& b) {
  int64_t n = 0;
  for (const auto& [f, c] : b.missing) n += c;
  return n;
}

inline int64_t Sum(const std::map<Phase, int64_t>& counts) {
  int64_t n = 0;
  for (const auto& [p, c] : counts) n += c;
  return n;
}

// Per run and action, what the history holds; per fiche and action.
struct HistoryTotals {
  std::map<std::string, std::map<Phase, int64_t>> by_month;
  std::map<int, std::map<Phase, int64_t>> by_fiche;
};
inline HistoryTotals TotalsOf(const std::vector<ReportHistoryRow>& history) {
  HistoryTotals t;
  for (const auto& h : history) {
    t.by_month[h.month][h.action] += h.count;
    t.by_fiche[h.fiche][h.action] += h.count;
  }
  return t;
}

}  // namespace retention::report_internal
