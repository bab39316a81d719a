// The differential check shared by the SQLite and PostgreSQL tests: plan the same
// deployment with the pushed-down predicate and with a full scan, and require identical
// decisions (binding, key, action) with real filtering.
#pragma once

#include <algorithm>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "retention/plan.h"

namespace retention::testing {

using Decision = std::tuple<std::string, std::string, std::string>;  // binding, key, action

struct Decisions {
  std::set<Decision> set;
  int64_t scanned = 0;
};

inline Decisions Decide(const PolicySet& policies, const Deployment& d, const Stores& stores, Date as_of, bool full) {
  Decisions out;
  ExecuteOptions o;
  o.as_of = as_of;
  o.full_scan = full;
  o.on_record = [&](const Binding& b, const RawRecord& r, const Evaluation&, std::optional<Phase> action) {
    if (action) out.set.emplace(b.name, r.key, PhaseName(*action));
  };
  auto plan = Execute(d, policies, stores, o);
  INFO(plan.status().message());
  REQUIRE(plan.ok());
  for (const auto& b : plan->bindings) {
    INFO(b.binding << (full ? " (full scan)" : " (pushed down)") << ": " << fmt::format("{}", fmt::join(b.errors, "; ")));
    CHECK(b.errors.empty());  // a record that cannot be read would hide a decision on both sides
    out.scanned += b.scanned;
  }
  return out;
}

// `describe(key)` renders the key's row for the failure message.
inline void CheckSameDecisions(const Decisions& full, const Decisions& pushed,
                               const std::function<std::string(const std::string&)>& describe) {
  auto report = [&](const std::set<Decision>& side, const std::set<Decision>& other, const char* label) {
    std::vector<Decision> only;
    std::set_difference(side.begin(), side.end(), other.begin(), other.end(), std::back_inserter(only));
    for (size_t i = 0; i < std::min<size_t>(5, only.size()); ++i) {
      const auto& [binding, key, action] = only[i];
      std::string other_action = "none";
      for (const auto& o : other)
        if (std::get<0>(o) == binding && std::get<1>(o) == key) other_action = std::get<2>(o);
      UNSCOPED_INFO(label << ": binding " << binding << " key " << key << ": " << action << " vs " << other_action
                          << "; row " << describe(key));
    }
    return only.size();
  };
  CHECK(report(full.set, pushed.set, "full scan only (full vs pushed)") == 0);
  CHECK(report(pushed.set, full.set, "pushdown only (pushed vs full)") == 0);
  CHECK(full.set.size() > 10000);                      // the data exercises real decisions
  CHECK(pushed.scanned < full.scanned * 9 / 10);       // and the predicate really filters
  std::set<std::string> bindings_with_decisions;
  for (const auto& d : full.set) bindings_with_decisions.insert(std::get<0>(d));
  CHECK(bindings_with_decisions.size() >= 9);          // every kind of rule decides something
}

}  // namespace retention::testing
