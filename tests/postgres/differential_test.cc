// The pushed-down predicate against the streaming fallback, on PostgreSQL: the same
// 100,000 generated records as the SQLite differential test (month ends, leap days,
// NULLs, holds, every case), loaded with COPY into a fresh schema, are planned both ways
// and every decision (binding, key, action) must be identical.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "pg_session.h"
#include "retention/connectors.h"
#include "retention/deployment.h"
#include "retention/plan.h"
#include "retention/policy.h"
#include "support/records.h"

using namespace retention;
using namespace retention::testing;

namespace {

const PolicySet& Shipped() {
  static const LoadResult loaded = LoadPolicies(RETENTION_SOURCE_DIR "/policies");
  return loaded.policies;
}

using Decision = std::tuple<std::string, std::string, std::string>;  // binding, key, action

std::set<Decision> Decide(const Deployment& d, const Stores& stores, Date as_of, bool full, int64_t* scanned) {
  std::set<Decision> out;
  ExecuteOptions o;
  o.as_of = as_of;
  o.full_scan = full;
  o.on_record = [&](const Binding& b, const RawRecord& r, const Evaluation&, std::optional<Phase> action) {
    if (action) out.emplace(b.name, r.key, PhaseName(*action));
  };
  auto plan = Execute(d, Shipped(), stores, o);
  INFO(plan.status().message());
  REQUIRE(plan.ok());
  *scanned = 0;
  for (const auto& b : plan->bindings) {
    INFO(b.binding << (full ? " (full scan)" : " (pushed down)") << ": " << fmt::format("{}", fmt::join(b.errors, "; ")));
    CHECK(b.errors.empty());  // a record that cannot be read would hide a decision on both sides
    *scanned += b.scanned;
  }
  return out;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

TEST_CASE("postgres differential: pushdown and streaming decide identically on 100,000 PostgreSQL records",
          "[postgres][differential]") {
  auto started = std::chrono::steady_clock::now();
  PgSession db;
  const std::string table = db.T("wide");
  std::string ddl = "CREATE TABLE " + table + " (";
  for (const auto& [name, type] : WideColumns()) ddl += (ddl.back() == '(' ? "" : ", ") + name + " " + type;
  db.Exec(ddl + ")");
  db.Copy(table, [](const auto& row) { GenerateWideRecords(100000, 20261122, /*sqlite=*/false, row); });
  db.Exec("ANALYZE " + table);
  REQUIRE(db.Scalar("SELECT COUNT(*) FROM " + table) == "100000");
  UNSCOPED_INFO(fmt::format("loaded 100,000 rows in {:.1f} s", Seconds(started)));

  // Every binding, archives included, lives in the test's schema ("<schema>.wide_archive...").
  const std::string bindings = WideBindings("main", table);
  CHECK(bindings.find("table: " + table + "_archive}") != std::string::npos);
  std::string config = fmt::format(
      "state: state.db\ndeployment_facts: {{fin_urgence_sanitaire: 2023-01-31}}\n"
      "stores:\n  main: {{type: postgres, dsn_env: RETENTION_TEST_PG}}\nbindings:\n{}",
      bindings);
  DeploymentLoad load =
      LoadDeploymentText(config, "wide.yaml", std::filesystem::temp_directory_path().string(), Shipped());
  for (const auto& d : load.diagnostics) UNSCOPED_INFO(d.ToString());
  REQUIRE_FALSE(HasErrors(load.diagnostics));
  ConnectorRegistry registry;
  RegisterBuiltinConnectors(registry);
  auto stores = Stores::Open(load.deployment, registry);
  INFO(stores.status().message());
  REQUIRE(stores.ok());
  REQUIRE(ValidateSchemas(load.deployment, *stores).empty());

  for (const char* as_of : {"2026-11-22", "2024-02-29", "2023-07-31"}) {
    INFO("as of " << as_of);
    auto t0 = std::chrono::steady_clock::now();
    int64_t full_scanned = 0, pushed_scanned = 0;
    auto full = Decide(load.deployment, *stores, *Date::Parse(as_of), true, &full_scanned);
    auto pushed = Decide(load.deployment, *stores, *Date::Parse(as_of), false, &pushed_scanned);
    std::vector<Decision> only_full, only_pushed;
    std::set_difference(full.begin(), full.end(), pushed.begin(), pushed.end(), std::back_inserter(only_full));
    std::set_difference(pushed.begin(), pushed.end(), full.begin(), full.end(), std::back_inserter(only_pushed));
    // A mismatch names the binding, both decisions and the key's row.
    auto report = [&](const std::vector<Decision>& side, const std::set<Decision>& other, const char* label) {
      for (size_t i = 0; i < std::min<size_t>(5, side.size()); ++i) {
        const auto& [binding, key, action] = side[i];
        std::string other_action = "none";
        for (const auto& o : other)
          if (std::get<0>(o) == binding && std::get<1>(o) == key) other_action = std::get<2>(o);
        auto row = db.Query(fmt::format("SELECT row_to_json(w)::text FROM {} w WHERE id = {}", table, key));
        UNSCOPED_INFO(label << ": binding " << binding << " key " << key << ": " << action << " vs " << other_action
                            << "; row " << (row.empty() ? "?" : row[0][0].value_or("NULL")));
      }
    };
    report(only_full, pushed, "full scan only (full vs pushed)");
    report(only_pushed, full, "pushdown only (pushed vs full)");
    CHECK(only_full.empty());
    CHECK(only_pushed.empty());
    CHECK(full.size() > 10000);                     // the data exercises real decisions
    CHECK(pushed_scanned < full_scanned * 9 / 10);  // and the predicate really filters
    std::set<std::string> bindings_with_decisions;
    for (const auto& d : full) bindings_with_decisions.insert(std::get<0>(d));
    CHECK(bindings_with_decisions.size() >= 9);
    UNSCOPED_INFO(fmt::format("as of {}: {} decisions, {} rows scanned in full, {} pushed down, {:.1f} s", as_of,
                              full.size(), full_scanned, pushed_scanned, Seconds(t0)));
  }
  CHECK(Seconds(started) < 60);
}
