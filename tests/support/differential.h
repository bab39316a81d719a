// The differential check shared by the SQLite and PostgreSQL tests: plan the same
// deployment with the pushed-down predicate and with a full scan, and require identical
// decisions (binding, key, action) with real filtering.
#pragma once

#include <algorithm>
#include <functional>
#include <iterator>
#include <optional>
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

// Operator holds for the tests: on a whole rule (the same for every record of its
// bindings) and on keys (per record).
class TestHolds : public HoldChecker {
 public:
  std::set<std::string> rules, keys;
  std::optional<std::string> Held(const Binding& b, const std::string& key, const std::string&) const override {
    if (rules.count(b.rule->id) || keys.count(b.name + "/" + key)) return std::string("test hold");
    return std::nullopt;
  }
  bool ByRecord(const Binding& b) const override {
    return std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return k.rfind(b.name + "/", 0) == 0; });
  }
};

inline Plan PlanOf(const PolicySet& policies, const Deployment& d, const Stores& stores, Date as_of, bool full,
                   bool count_in_store, const HoldChecker* holds = nullptr) {
  ExecuteOptions o;
  o.as_of = as_of;
  o.full_scan = full;
  o.count_in_store = count_in_store;
  o.holds = holds;
  auto plan = Execute(d, policies, stores, o);
  INFO(plan.status().message());
  REQUIRE(plan.ok());
  return *plan;
}

inline int64_t DueCount(const BindingPlan& b, Phase p) {
  auto it = b.due.find(p);
  return it == b.due.end() ? 0 : it->second.count;
}

// A fast plan counted in the store (Connector::Group) against the plan that reads every
// row and the fast plan that reads the rows the predicate selects: the same due,
// operator-held and missing counts per binding, and the same sample keys as the
// selected rows give. Returns how many bindings were counted in the store.
inline int CheckCountedInStore(const PolicySet& policies, const Deployment& d, const Stores& stores, Date as_of,
                               const HoldChecker* holds = nullptr) {
  Plan full = PlanOf(policies, d, stores, as_of, true, false, holds);
  Plan counted = PlanOf(policies, d, stores, as_of, false, true, holds);
  Plan read = PlanOf(policies, d, stores, as_of, false, false, holds);
  REQUIRE(full.bindings.size() == counted.bindings.size());
  REQUIRE(read.bindings.size() == counted.bindings.size());
  int in_store = 0, with_due = 0, with_missing = 0;
  for (size_t i = 0; i < full.bindings.size(); ++i) {
    const BindingPlan &f = full.bindings[i], &c = counted.bindings[i], &r = read.bindings[i];
    INFO("binding " << c.binding);
    if (c.manual) continue;
    CHECK_FALSE(r.counted_in_store);
    CHECK(c.missing_counted == c.counted_in_store);
    in_store += c.counted_in_store ? 1 : 0;
    for (Phase p : {Phase::kArchive, Phase::kPseudonymise, Phase::kDelete}) {
      INFO("action " << PhaseName(p));
      CHECK(DueCount(c, p) == DueCount(f, p));
      CHECK(DueCount(c, p) == DueCount(r, p));
      auto samples = [p](const BindingPlan& b) {
        auto it = b.due.find(p);
        return it == b.due.end() ? std::vector<std::string>{} : it->second.sample_keys;
      };
      CHECK(samples(c) == samples(r));
    }
    CHECK(c.operator_held.count == f.operator_held.count);
    CHECK(c.operator_held.sample_keys == r.operator_held.sample_keys);
    if (c.counted_in_store) CHECK(c.missing == f.missing);
    CHECK(c.assumed == f.assumed);
    CHECK(c.errors.empty());
    with_due += c.DueTotal() > 0 ? 1 : 0;
    with_missing += c.counted_in_store && !c.missing.empty() ? 1 : 0;
  }
  CHECK(with_due >= 5);      // the data exercises real counts
  CHECK(with_missing >= 3);
  return in_store;
}

}  // namespace retention::testing
