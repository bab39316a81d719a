// End to end on the demo deployment: two runs at two dates, holds, guards, approved
// plans, the audit chain and its tampering, refused runs. The library calls are the
// ones the CLI makes; exit codes are checked on the real executable.

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "cpam/generator.h"
#include "retention/connectors.h"
#include "retention/run.h"
#include "retention/secrets.h"
#include "support/process.h"
#include "support/sqlite_db.h"

using namespace retention;
using namespace retention::testing;
namespace fs = std::filesystem;

namespace {

using Cli = Process;

Cli Run(const std::string& args) { return Retention(args); }

const Date kToday = *Date::Parse("2026-11-22");

struct Demo {
  TempDir dir;
  std::string config;
  LoadResult policies;
  DeploymentLoad load;
  std::optional<Stores> stores;
  std::optional<StateDb> state;
  FixedClock clock{kToday};

  explicit Demo(int rows = 3000) {
    demo::DemoOptions o;
    o.dir = dir.path().string();
    o.rows = rows;
    o.today = kToday;
    o.policies_dir = RETENTION_SOURCE_DIR "/policies";
    auto s = demo::GenerateDemo(o);
    REQUIRE(s.ok());
    config = s->config;
    policies = LoadPolicies(RETENTION_SOURCE_DIR "/policies");
    load = LoadDeployment(config, policies.policies);
    for (const auto& d : load.diagnostics) UNSCOPED_INFO(d.ToString());
    REQUIRE_FALSE(HasErrors(load.diagnostics));
    ConnectorRegistry registry;
    RegisterBuiltinConnectors(registry);
    auto opened = Stores::Open(load.deployment, registry);
    REQUIRE(opened.ok());
    stores.emplace(std::move(*opened));
    auto st = StateDb::Open(load.deployment.state_path, *LoadKey(load.deployment.audit_key_file, ""));
    REQUIRE(st.ok());
    state.emplace(std::move(*st));
  }

  Result<RunOutcome> Go(const char* as_of, bool apply, RunOptions o = {}) {
    o.as_of = *Date::Parse(as_of);
    o.apply = apply;
    o.clock = &clock;
    o.pseudonymise_keys["F55.accompagnement"] = *LoadKey(dir / "keys/pseudonymisation.key", "");
    return PlanOrRun(load.deployment, policies.policies, *stores, &*state, o);
  }
  SqliteDb Db() { return SqliteDb(dir / "data/cpam.db"); }
};

int64_t Applied(const Plan& p) {
  int64_t n = 0;
  for (const auto& b : p.bindings)
    for (const auto& [a, c] : b.applied) n += c;
  return n;
}

int64_t Due(const Plan& p) {
  int64_t n = 0;
  for (const auto& b : p.bindings) n += b.DueTotal();
  return n;
}

const BindingPlan& Of(const Plan& p, const std::string& name) {
  for (const auto& b : p.bindings)
    if (b.binding == name) return b;
  FAIL("no binding " << name);
  return p.bindings.front();
}

}  // namespace

TEST_CASE("demo: the second run acts only on what became due since the first", "[e2e]") {
  Demo demo;
  RunOptions mass;
  mass.allow_mass = true;
  auto first = demo.Go("2026-06-30", true, mass);
  REQUIRE(first.ok());
  CHECK(Applied(first->plan) > 1000);
  CHECK_FALSE(first->guard_tripped);
  // Nothing is left due at the first date.
  auto replan = demo.Go("2026-06-30", false);
  REQUIRE(replan.ok());
  CHECK(Due(replan->plan) == 0);
  // The second run: every record it acts on became due after the first date.
  RunOptions second_options = mass;
  int64_t acted = 0, late = 0;
  Date d1 = *Date::Parse("2026-06-30"), d2 = *Date::Parse("2026-11-22");
  second_options.on_record = [&](const Binding&, const RawRecord&, const Evaluation& e, std::optional<Phase> action) {
    if (!action) return;
    ++acted;
    Date first_allowed = d2;
    for (const auto& t : e.timeline)
      if (t.action == *e.due) first_allowed = t.from;
    if (!(first_allowed > d1 && first_allowed <= d2)) ++late;
  };
  auto second = demo.Go("2026-11-22", true, second_options);
  REQUIRE(second.ok());
  CHECK(acted > 50);
  CHECK(late == 0);
  CHECK(Applied(second->plan) == acted);
  auto v = demo.state->VerifyAudit();
  REQUIRE(v.ok());
  CHECK(v->ok);
  CHECK(fs::exists(second->certificate_json));
  CHECK(fs::exists(second->certificate_text));
}

TEST_CASE("demo: operator holds block actions until released", "[e2e][holds]") {
  Demo demo;
  RunOptions mass;
  mass.allow_mass = true;
  // Two due records: one held by subject, one by key; and a whole rule held.
  auto nir_of_1 = demo.Db().One("SELECT nir FROM immatriculations WHERE fin_droits < '2023-11-22' ORDER BY id LIMIT 1");
  auto id_of_1 = demo.Db().One("SELECT id FROM immatriculations WHERE fin_droits < '2023-11-22' ORDER BY id LIMIT 1");
  auto key_2 = demo.Db().One("SELECT id FROM immatriculations WHERE fin_droits < '2023-11-22' ORDER BY id LIMIT 1 OFFSET 1");
  REQUIRE(demo.state->AddHold(OperatorHold::Kind::kSubject, nir_of_1, "", "demande d'accès en cours").ok());
  REQUIRE(demo.state->AddHold(OperatorHold::Kind::kKey, key_2, "F01.droits", "vérification").ok());
  auto rule_hold = demo.state->AddHold(OperatorHold::Kind::kRule, "F76.dossier_salarie", "", "contentieux prud'homal");
  REQUIRE(rule_hold.ok());
  auto run = demo.Go("2026-11-22", true, mass);
  REQUIRE(run.ok());
  CHECK(Of(run->plan, "F01.droits").operator_held.count >= 2);
  CHECK(Of(run->plan, "F76.dossier_salarie").applied.empty());
  CHECK(Of(run->plan, "F76.dossier_salarie").operator_held.count > 0);
  CHECK(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE id IN (" + id_of_1 + ", " + key_2 + ")") == "2");
  // The subject's digest, never the NIR, is stored.
  auto holds = demo.state->Holds(false);
  REQUIRE(holds.ok());
  for (const auto& h : *holds) CHECK(h.value != nir_of_1);
  // Release: the next run deletes them.
  for (const auto& h : *holds) REQUIRE(demo.state->ReleaseHold(h.id, "levée").ok());
  CHECK_FALSE(demo.state->ReleaseHold(rule_hold.value(), "again").ok());
  auto after = demo.Go("2026-11-22", true, mass);
  REQUIRE(after.ok());
  CHECK(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE id IN (" + id_of_1 + ", " + key_2 + ")") == "0");
  CHECK(Of(after->plan, "F76.dossier_salarie").applied.at(Phase::kDelete) > 0);
}

TEST_CASE("demo: a hold placed during a run is honoured by the batch that re-checks it", "[e2e][holds]") {
  Demo demo;
  // The hold arrives between planning and applying: the apply pass re-reads holds
  // inside the state transaction of each batch.
  RunOptions o;
  o.allow_mass = true;
  bool placed = false;
  std::string key = demo.Db().One("SELECT id FROM salaries WHERE depart < '2021-11-21' ORDER BY id LIMIT 1");
  o.on_record = [&](const Binding& b, const RawRecord& r, const Evaluation&, std::optional<Phase> action) {
    if (!placed && b.name == "F76.dossier_salarie" && r.key == key && action) {
      placed = true;
      auto other = StateDb::Open(demo.load.deployment.state_path, *LoadKey(demo.dir / "keys/audit.key", ""));
      REQUIRE(other.ok());
      REQUIRE(other->AddHold(OperatorHold::Kind::kKey, key, "F76.dossier_salarie", "arrivée en cours de run").ok());
    }
  };
  auto run = demo.Go("2026-11-22", true, o);
  REQUIRE(run.ok());
  CHECK(placed);
  CHECK(Of(run->plan, "F76.dossier_salarie").skipped_at_apply == 1);
  CHECK(demo.Db().One("SELECT COUNT(*) FROM salaries WHERE id = " + key) == "1");
}

TEST_CASE("demo: guards trip, then --allow-mass and approved plans, with their exit codes", "[e2e][guards]") {
  Demo demo;
  std::string c = "--config " + demo.config;
  Cli guarded = Run("run " + c + " --as-of 2026-11-22");
  INFO(guarded.out);
  CHECK(guarded.code == 3);
  CHECK(guarded.out.find("GUARD: ") != std::string::npos);
  CHECK(guarded.out.find("rows/s") == std::string::npos);  // no progress line when not a terminal
  CHECK(demo.Db().One("SELECT COUNT(*) FROM immatriculations") == "300");  // nothing applied
  // An approved plan: applied within its counts, even when more became due since.
  Cli plan = Run("plan " + c + " --as-of 2026-11-22 --binding F01.droits --save " + (demo.dir / "plan.json"));
  REQUIRE(plan.code == 0);
  int64_t due = std::stoll(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE fin_droits < '2023-11-22'"));
  demo.Db().Exec("INSERT INTO immatriculations VALUES (90001, '180017512345678', 'Nouveau', '2020-01-31'), "
                 "(90002, '280027512345612', 'Nouvelle', '2020-01-31')");
  Cli approved = Run("run " + c + " --as-of 2026-11-22 --binding F01.droits --approved " + (demo.dir / "plan.json"));
  INFO(approved.out);
  CHECK(approved.code == 0);
  CHECK(std::stoll(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE fin_droits < '2023-11-22'")) == 2);
  CHECK(due > 2);
  // A plan made under other policies is refused.
  std::string text;
  {
    std::ifstream in(demo.dir / "plan.json");
    std::stringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  auto at = text.find("sha256:");
  text.replace(at + 7, 4, "0000");
  std::ofstream(demo.dir / "stale.json") << text;
  Cli stale = Run("run " + c + " --as-of 2026-11-22 --approved " + (demo.dir / "stale.json"));
  CHECK(stale.code == 4);
  CHECK(stale.out.find("other policies or another configuration") != std::string::npos);
  Cli mass = Run("run " + c + " --as-of 2026-11-22 --allow-mass");
  CHECK(mass.code == 0);
  CHECK(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE fin_droits < '2023-11-22'") == "0");
}

TEST_CASE("demo: refused runs: future date, backwards clock, concurrent run", "[e2e][refused]") {
  Demo demo;
  std::string c = "--config " + demo.config;
  Cli future = Run("run " + c + " --as-of 2999-01-01");
  CHECK(future.code == 4);
  CHECK(future.out.find("cannot be dated in the future") != std::string::npos);
  CHECK(Run("plan " + c + " --as-of 2999-01-01 --fast").code == 0);  // a plan may forecast
  REQUIRE(Run("run " + c + " --as-of 2026-11-01 --allow-mass").code == 0);
  Cli backwards = Run("run " + c + " --as-of 2026-10-01 --allow-mass");
  CHECK(backwards.code == 4);
  CHECK(backwards.out.find("clock guard") != std::string::npos);
  REQUIRE(demo.state->LockForRun().ok());  // another run in progress
  Cli concurrent = Run("run " + c + " --as-of 2026-11-22 --allow-mass");
  CHECK(concurrent.code == 4);
  CHECK(concurrent.out.find("another run") != std::string::npos);
  demo.state->Unlock();
  CHECK(Run("run " + c + " --as-of 2026-11-22 --allow-mass").code == 0);
}

TEST_CASE("demo: audit tampering is detected and the entry named", "[e2e][audit]") {
  Demo demo;
  std::string c = "--config " + demo.config;
  auto nirs = demo.Db().Column("SELECT nir FROM immatriculations UNION SELECT nir FROM droits_maladie");
  REQUIRE(Run("run " + c + " --as-of 2026-11-22 --allow-mass").code == 0);
  {
    // Neither subjects nor keys are stored in clear in the state database.
    std::ifstream in(demo.load.deployment.state_path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    for (const auto& nir : nirs) REQUIRE(bytes.str().find(nir) == std::string::npos);
  }
  Cli ok = Run("audit verify " + c);
  CHECK(ok.code == 0);
  CHECK(ok.out.find("audit chain verified") != std::string::npos);
  Cli show = Run("audit show " + c + " --format json");
  CHECK(show.code == 0);
  CHECK(show.out.find("key_digests") != std::string::npos);
  SqliteDb state(demo.load.deployment.state_path);
  SECTION("a changed count") {
    state.Exec("UPDATE audit SET count = count - 1 WHERE id = 3");
    Cli bad = Run("audit verify " + c);
    CHECK(bad.code == 1);
    CHECK(bad.out.find("BROKEN at entry 3") != std::string::npos);
  }
  SECTION("a removed entry") {
    state.Exec("DELETE FROM audit WHERE id = 2");
    Cli bad = Run("audit verify " + c);
    CHECK(bad.code == 1);
    CHECK(bad.out.find("BROKEN at entry 3") != std::string::npos);
  }
  SECTION("the last entries removed") {
    auto last = state.One("SELECT MAX(id) FROM audit");
    state.Exec("DELETE FROM audit WHERE id = " + last);
    Cli bad = Run("audit verify " + c);
    CHECK(bad.code == 1);
    CHECK(bad.out.find("BROKEN at entry " + last + ": run 1 recorded") != std::string::npos);
  }
  SECTION("a digest swapped for another key's") {
    state.Exec("UPDATE audit SET key_digests = replace(key_digests, substr(key_digests, 3, 8), 'deadbeef') WHERE id = 4");
    Cli bad = Run("audit verify " + c);
    CHECK(bad.code == 1);
    CHECK(bad.out.find("BROKEN at entry 4") != std::string::npos);
  }
}

TEST_CASE("demo: progress on a terminal, quiet otherwise", "[e2e][progress]") {
  Demo demo(20000);
  std::string plan = std::string(RETENTION_CLI) + " plan --config " + demo.config + " --as-of 2026-11-22";
  // script(1) runs the command on a pseudo-terminal.
  Cli tty = Shell("script -qec '" + plan + "' /dev/null");
  INFO(tty.out.substr(0, 2000));
  CHECK(tty.out.find("rows/s, ETA") != std::string::npos);
  Cli piped = Run("plan --config " + demo.config + " --as-of 2026-11-22");
  CHECK(piped.out.find("rows/s") == std::string::npos);
}

TEST_CASE("demo: valid-format NIRs with their control key", "[e2e][demo]") {
  for (uint64_t s = 0; s < 1000; ++s) CHECK(demo::NirKeyValid(demo::SyntheticNir(s)));
  CHECK_FALSE(demo::NirKeyValid("180017512345600"));
  Demo d(100);
  for (const auto& nir : d.Db().Column("SELECT nir FROM immatriculations")) CHECK(demo::NirKeyValid(nir));
}
