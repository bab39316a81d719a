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
#include "state/state_db.h"
#include "support/process.h"
#include "support/demo.h"
#include "support/sqlite_db.h"

using namespace retention;
using namespace retention::testing;
namespace fs = std::filesystem;

namespace {

using Cli = Process;

Cli Run(const std::string& args) { return Retention(args); }

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
      auto other = demo.OpenState();
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
  Cli approved = Run("run " + c + " --as-of 2026-11-22 --binding F01.droits --approved " + (demo.dir / "plan.json") +
                     " --approved-by dpo");
  INFO(approved.out);
  CHECK(approved.code == 0);
  CHECK(std::stoll(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE fin_droits < '2023-11-22'")) == 2);
  CHECK(due > 2);
  // A plan made under another configuration is refused.
  Cli second = Run("plan " + c + " --as-of 2026-11-22 --save " + (demo.dir / "plan2.json"));
  REQUIRE(second.code == 0);
  std::ofstream(demo.config, std::ios::app) << "# changed after the plan was approved\n";
  Cli stale = Run("run " + c + " --as-of 2026-11-22 --approved " + (demo.dir / "plan2.json") + " --approved-by dpo");
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
    CHECK(bad.out.find("BROKEN at entry " + last + ": anchor line 1 recorded") != std::string::npos);
  }
  SECTION("a digest swapped for another key's") {
    state.Exec("UPDATE audit SET key_digests = replace(key_digests, substr(key_digests, 3, 8), 'deadbeef') WHERE id = 4");
    Cli bad = Run("audit verify " + c);
    CHECK(bad.code == 1);
    CHECK(bad.out.find("BROKEN at entry 4") != std::string::npos);
  }
}

TEST_CASE("demo: a run recomputes the MACs from the head the last run verified and checks every link",
          "[e2e][audit]") {
  Demo demo;
  RunOptions mass;
  mass.allow_mass = true;
  REQUIRE(demo.state->AddHold(OperatorHold::Kind::kRule, "F76.dossier_salarie", "", "contentieux prud'homal").ok());
  REQUIRE(demo.Go("2026-06-30", true, mass).ok());
  auto second = demo.Go("2026-11-22", true, mass);
  REQUIRE(second.ok());
  SqliteDb state(demo.load.deployment.state_path);
  // The second run's run_start records the head its start verified (the whole chain).
  const int64_t start = std::stoll(state.One("SELECT MAX(id) FROM audit WHERE kind = 'run_start'"));
  const int64_t through =
      std::stoll(state.One(fmt::format("SELECT json_extract(detail, '$.verified.through') FROM audit WHERE id = {}", start)));
  CHECK(through > 1);
  CHECK(through < start);
  CHECK(state.One(fmt::format("SELECT json_extract(detail, '$.verified.head') FROM audit WHERE id = {}", start)) ==
        state.One(fmt::format("SELECT hash FROM audit WHERE id = {}", through)));
  {
    std::ifstream in(second->certificate_json);
    std::stringstream text;
    text << in.rdbuf();
    CHECK(text.str().find(fmt::format("\"audit_macs_from\": {}", through)) != std::string::npos);
  }
  auto since = demo.state->VerifyAudit(ChainScope::kSinceVerified);
  REQUIRE(since.ok());
  CHECK(since->ok);
  CHECK(since->macs_from == through);
  auto full = demo.state->VerifyAudit();
  REQUIRE(full.ok());
  CHECK(full->ok);
  CHECK(full->macs_from == 1);
  CHECK(full->entries == since->entries);
  CHECK(full->head == since->head);

  // The chain as a run checks it: from the recorded head.
  auto verify_since = [&] {
    auto v = demo.state->VerifyAudit(ChainScope::kSinceVerified);
    REQUIRE(v.ok());
    return *v;
  };
  SECTION("an entry after the recorded head, changed") {
    state.Exec(fmt::format("UPDATE audit SET count = count - 1 WHERE id = {}", start + 1));
    auto v = verify_since();
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad_id == start + 1);
    CHECK(demo.Go("2026-11-22", true, mass).status().message().find("does not verify") != std::string::npos);
  }
  SECTION("the recorded head replaced") {
    state.Exec(fmt::format("UPDATE audit SET hash = 'f00d' WHERE id = {}", through));
    auto v = verify_since();
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad_id == through);
    CHECK_THAT(v.problem, Catch::Contains("is not as an earlier verification recorded it"));
  }
  SECTION("the run_start moved to a later head, to skip entries") {
    state.Exec(fmt::format("UPDATE audit SET detail = json_set(detail, '$.verified.through', {}) WHERE id = {}",
                           start, start));
    auto v = verify_since();
    CHECK_FALSE(v.ok);  // its own MAC is recomputed
    CHECK(v.first_bad_id == start);
  }
  SECTION("a link removed before the head") {
    state.Exec("DELETE FROM audit WHERE id = 2");
    auto v = verify_since();
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad_id == 3);
  }
  SECTION("a hold before the head turned into a batch, its row deleted") {
    REQUIRE(state.One(fmt::format("SELECT count(*) FROM audit WHERE id < {} AND kind = 'hold_add'", through)) != "0");
    state.Exec(fmt::format("UPDATE audit SET kind = 'batch' WHERE id = (SELECT MIN(id) FROM audit WHERE kind = 'hold_add') "
                           "AND id < {}", through));
    state.Exec("DELETE FROM holds");  // the table then agrees with the rewritten chain
    auto v = verify_since();
    CHECK_FALSE(v.ok);
    CHECK(v.first_bad_id == through);
    CHECK_THAT(v.problem, Catch::Contains("the history was rewritten"));
  }
  SECTION("a batch before the head turned into a hold release") {
    state.Exec(fmt::format("UPDATE audit SET kind = 'hold_release' WHERE id = (SELECT MIN(id) FROM audit WHERE kind = "
                           "'batch')"));
    auto v = verify_since();
    CHECK_FALSE(v.ok);
  }
  SECTION("a batch entry before the head rewritten in place: found by the full verification only") {
    const std::string batch = state.One("SELECT MIN(id) FROM audit WHERE kind = 'batch'");
    REQUIRE(std::stoll(batch) < through);
    state.Exec("UPDATE audit SET count = count - 1 WHERE id = " + batch);
    auto v = verify_since();
    CHECK(v.ok);
    auto whole = demo.state->VerifyAudit();
    REQUIRE(whole.ok());
    CHECK_FALSE(whole->ok);
    CHECK(whole->first_bad_id == std::stoll(batch));
    Cli verify = Run("audit verify --config " + demo.config);
    CHECK(verify.code == 1);
    CHECK(verify.out.find("BROKEN at entry " + batch) != std::string::npos);
  }
  SECTION("an entry that is not a batch, before the head, rewritten in place") {
    state.Exec("UPDATE audit SET detail = json_set(detail, '$.reason', 'none') WHERE kind = 'hold_add'");
    auto v = verify_since();
    CHECK_FALSE(v.ok);
  }
}

TEST_CASE("the whole chain is recomputed again once kFullVerifyDays have passed", "[audit]") {
  Date d = *Date::Parse("2026-11-23");
  CHECK_FALSE(internal::FullVerificationDue("2026-11-23T02:00:00Z", d));
  CHECK_FALSE(internal::FullVerificationDue("2026-11-17T02:00:00Z", d));  // 6 days
  CHECK(internal::FullVerificationDue("2026-11-16T02:00:00Z", d));        // 7 days
  CHECK(internal::FullVerificationDue("2026-11-24T02:00:00Z", d));        // in the future
  CHECK(internal::FullVerificationDue("", d));
  CHECK(internal::FullVerificationDue("yesterday", d));
  CHECK(kFullVerifyDays == 7);
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
