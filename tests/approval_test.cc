// Approved plans bound to records: a run with `--approved` acts only on the records the
// reviewed plan listed, once, before its expiry, and names who approved it. Real runs
// of the CLI on the demo deployment, and the library with injected clocks.

#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/demo.h"
#include "support/process.h"

using namespace retention;
using namespace retention::testing;

namespace {

// A plan saved for approval through the library, with the clock of the day it is made.
ApprovedPlan SavedPlan(Demo& demo, const char* day) {
  FixedClock clock(*Date::Parse(day));
  RunOptions o;
  o.as_of = *Date::Parse(day);
  o.clock = &clock;
  o.only_bindings = {"F01.droits"};
  o.approval_key = *LoadKey(demo.dir / "keys/audit.key", "");
  auto out = PlanOrRun(demo.load.deployment, demo.policies.policies, *demo.stores, &*demo.state, o);
  REQUIRE(out.ok());
  auto plan = ParseApprovedPlan(out->approval_json);
  REQUIRE(plan.ok());
  plan->approved_by = "dpo";
  return *plan;
}

}  // namespace

TEST_CASE("approval: a plan reviewed for keys 1 and 3 does not delete keys 2 and 5 due later", "[approval]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  demo.Db().Exec("INSERT INTO immatriculations VALUES (9000001, '180017512345678', 'Un', '2015-01-31'), "
                 "(9000002, '280027512345612', 'Deux', '2026-01-31'), (9000003, '180017512345679', 'Trois', '2015-01-31'), "
                 "(9000005, '280027512345613', 'Cinq', '2026-01-31')");
  std::string plan = demo.dir / "plan.json";
  Process saved = Retention("plan" + c + " --as-of 2026-11-22 --binding F01.droits --save " + plan);
  REQUIRE(saved.code == 0);
  std::string text = ReadAll(plan);
  // No raw key in the file: digests only.
  CHECK(text.find("9000001") == std::string::npos);
  CHECK(text.find("sample_keys") == std::string::npos);
  auto j = nlohmann::json::parse(text);
  std::string plan_id = j["approval"]["plan_id"];
  // Keys 2 and 5 become due after the review.
  demo.Db().Exec("UPDATE immatriculations SET fin_droits = '2015-01-31' WHERE id IN (9000002, 9000005)");
  int64_t due_before = std::stoll(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE fin_droits < '2023-11-22'"));
  Process missing_approver = Retention("run" + c + " --as-of 2026-11-22 --approved " + plan);
  CHECK(missing_approver.code == 2);
  Process run = Retention("run" + c + " --as-of 2026-11-22 --approved " + plan + " --approved-by \"DPO office\"");
  INFO(run.out);
  REQUIRE(run.code == 0);
  CHECK(demo.Db().One("SELECT group_concat(id) FROM (SELECT id FROM immatriculations WHERE id > 9000000 ORDER BY id)") ==
        "9000002,9000005");
  CHECK(due_before > 4);
  CHECK(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE fin_droits < '2023-11-22'") == "2");
  CHECK(run.out.find("not in the approved plan: 2 records, left as they are") != std::string::npos);
  // The certificate and the chain name the approval.
  auto cert = nlohmann::json::parse(ReadAll(demo.dir / "state/certificates/run-1.json"));
  CHECK(cert["approval"]["plan_id"] == plan_id);
  CHECK(cert["approval"]["approved_by"] == "DPO office");
  CHECK(cert["approval"]["digest"] == j["approval"]["mac"]);
  CHECK(cert["allow_mass"].is_null());
  // Used once: a replay is refused, even for records that became due since.
  Process replay = Retention("run" + c + " --as-of 2026-11-22 --approved " + plan + " --approved-by dpo");
  CHECK(replay.code == 4);
  CHECK(replay.out.find("plan " + plan_id + " was already used by run 1") != std::string::npos);
  CHECK(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE id > 9000000") == "2");
}

TEST_CASE("approval: an edited plan is refused", "[approval]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  std::string plan = demo.dir / "plan.json";
  REQUIRE(Retention("plan" + c + " --as-of 2026-11-22 --save " + plan).code == 0);
  auto j = nlohmann::json::parse(ReadAll(plan));
  std::string how;
  SECTION("a count raised") {
    j["approval"]["sets"][0]["count"] = 1000000;
    how = "its MAC does not verify";
  }
  SECTION("the expiry pushed back") {
    j["approval"]["expires"] = "2040-01-01";
    how = "its MAC does not verify";
  }
  SECTION("a key digest added") {
    j["approval"]["sets"][0]["keys"].push_back(std::string(64, 'a'));
    how = "its MAC does not verify";
  }
  SECTION("a count of the wrong type") {
    j["approval"]["sets"][0]["count"] = "many";
    how = "the approval has no valid 'count'";
  }
  std::ofstream(plan) << j.dump(2);
  Process run = Retention("run" + c + " --as-of 2026-11-22 --approved " + plan + " --approved-by dpo");
  INFO(run.out);
  CHECK((run.code == 4 || run.code == 2));
  CHECK(run.out.find(how) != std::string::npos);
  CHECK(demo.state->Runs()->empty());
}

TEST_CASE("approval: a plan dated in the future or expired is refused", "[approval]") {
  Demo demo;
  RunOptions o;
  std::string why;
  SECTION("dated 2040") {
    o.approved = SavedPlan(demo, "2040-01-01");
    why = "it is dated 2040-01-01, after today (2026-11-22)";
  }
  SECTION("expired after 7 days") {
    o.approved = SavedPlan(demo, "2026-11-01");
    why = "it expired on 2026-11-08";
  }
  SECTION("as of a date after the run's") {
    o.approved = SavedPlan(demo, "2026-11-22");
    auto early = demo.Go("2026-11-20", true, o);
    REQUIRE_FALSE(early.ok());
    CHECK(early.status().message().find("it is as of 2026-11-22, after the run's date (2026-11-20)") != std::string::npos);
    o.approved->approved_by.clear();
    auto anonymous = demo.Go("2026-11-22", true, o);
    REQUIRE_FALSE(anonymous.ok());
    CHECK(anonymous.status().code() == Status::Code::kInvalidArgument);
    o.approved->approved_by = "dpo";
    why = "";
  }
  auto run = demo.Go("2026-11-22", true, o);
  if (why.empty()) {
    CHECK(run.ok());  // the same plan, used as it should be
    return;
  }
  REQUIRE_FALSE(run.ok());
  CHECK(run.status().code() == Status::Code::kFailedPrecondition);
  CHECK(run.status().message().find(why) != std::string::npos);
  CHECK(demo.state->Runs()->empty());
}
