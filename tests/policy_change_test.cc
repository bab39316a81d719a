// Policy changes under control (docs/operations.md): versions kept in the state
// database, diffs in meaning with their impact on bound records, and retention locks that
// runs refuse to break unless overridden. The demo deployment, real SQLite files, real
// runs of the CLI, and forgeries tried on the state database.
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "retention/policy_change.h"
#include "support/demo.h"
#include "support/process.h"

using namespace retention;
using namespace retention::testing;
namespace fs = std::filesystem;

namespace {

constexpr const char* kF05 = "01_gestion_des_droits/F05.yaml";
constexpr const char* kArchive10y = "      - phase: archive\n        for: 10y";

// A copy of the shipped policies in `dir`, with `from` replaced by `to` in `file` (F05.yaml).
std::string EditedPolicies(const TempDir& tmp, const std::string& name, const std::string& from, const std::string& to,
                           const std::string& file = kF05) {
  fs::path dir = tmp.path() / name;
  if (!fs::exists(dir)) fs::copy(RETENTION_SOURCE_DIR "/policies", dir, fs::copy_options::recursive);
  std::string text = ReadAll((dir / file).string());
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  std::ofstream((dir / file).string(), std::ios::trunc) << text;
  return dir.string();
}

std::string Shortened(const TempDir& tmp) {
  return EditedPolicies(tmp, "shortened", kArchive10y, "      - phase: archive\n        for: 5y");
}

int64_t Due(const nlohmann::json& plan, const std::string& binding, const std::string& action) {
  for (const auto& b : plan["bindings"])
    if (b["binding"] == binding) return b["due"].contains(action) ? b["due"][action]["count"].get<int64_t>() : 0;
  FAIL("no binding " << binding);
  return -1;
}

nlohmann::json Json(const Process& p) {
  INFO(p.out);
  REQUIRE(p.code == 0);
  return nlohmann::json::parse(p.out);
}

// The bound records of F05.prestations whose delete date the shortened set brings
// earlier, computed record by record with the evaluator, outside the plan's code path.
int64_t EarlierByEvaluator(Demo& demo, const PolicySet& shortened) {
  const Rule* before = demo.policies.policies.FindRule("F05.prestations");
  const Rule* after = shortened.FindRule("F05.prestations");
  REQUIRE(before);
  REQUIRE(after);
  int64_t n = 0;
  for (const auto& text : demo.Db().Column("SELECT date_versement FROM prestations_invalidite WHERE date_versement IS NOT NULL")) {
    Facts facts{{"date_versement", *ParseDateFact(text)}};
    auto a = Evaluate(*before, facts, kToday), b = Evaluate(*after, facts, kToday);
    REQUIRE(a.timeline.size() == 2);
    REQUIRE(b.timeline.size() == 2);
    n += b.timeline[1].from < a.timeline[1].from;
  }
  return n;
}

}  // namespace

TEST_CASE("policy change: a cosmetic edit is no change and a quoted text reworded is text only", "[policy_change]") {
  TempDir tmp;
  LoadResult shipped = LoadPolicies(RETENTION_SOURCE_DIR "/policies");
  REQUIRE_FALSE(HasErrors(shipped.diagnostics));
  // Comments, quoting, flow style and a duration written in another unit (10y = 120m).
  std::string cosmetic = EditedPolicies(tmp, "cosmetic", kArchive10y,
                                        "      # the archive phase, reformatted\n      - {phase: 'archive', for: 120m}");
  // Cases in another order, and the arguments of min and and swapped.
  EditedPolicies(tmp, "cosmetic", "            - when: cloture\n              date: cloture + 10y\n            - when: deces\n"
                                  "              date: deces + 10y",
                 "            - when: deces\n              date: deces + 10y\n            - when: cloture\n"
                 "              date: cloture + 10y", "04_prevention_coordination_organisation_soins/F30.yaml");
  EditedPolicies(tmp, "cosmetic", "when: cloture and deces\n              date: min(cloture, deces)",
                 "when: deces and cloture\n              date: min(deces, cloture)",
                 "04_prevention_coordination_organisation_soins/F29.yaml");
  LoadResult edited = LoadPolicies(cosmetic);
  REQUIRE_FALSE(HasErrors(edited.diagnostics));
  CHECK(edited.policies.hash != shipped.policies.hash);
  CHECK(PolicyVersionId(edited.policies) == PolicyVersionId(shipped.policies));
  PolicyDiff diff = DiffPolicies(shipped.policies, edited.policies);
  CHECK(diff.rules.empty());
  CHECK(diff.RulesToRecompute().empty());
  Process cli = Retention(fmt::format("policies diff {}/policies {}", RETENTION_SOURCE_DIR, cosmetic));
  INFO(cli.out);
  CHECK(cli.code == 0);
  CHECK(cli.out.find("No rule changed in meaning") != std::string::npos);

  std::string reworded = EditedPolicies(tmp, "reworded", "archivées pendant une durée de 10 ans",
                                        "archivées durant 10 ans");
  LoadResult text_only = LoadPolicies(reworded);
  REQUIRE_FALSE(HasErrors(text_only.diagnostics));
  CHECK(PolicyVersionId(text_only.policies) == PolicyVersionId(shipped.policies));
  diff = DiffPolicies(shipped.policies, text_only.policies);
  REQUIRE(diff.rules.size() == 1);
  CHECK(diff.rules[0].kind == RuleChange::Kind::kTextOnly);
  CHECK(diff.RulesToRecompute().empty());

  LoadResult shorter = LoadPolicies(Shortened(tmp));
  diff = DiffPolicies(shipped.policies, shorter.policies);
  CHECK(diff.RulesToRecompute() == std::vector<std::string>{"F05.prestations"});
  REQUIRE(diff.rules.size() == 1);
  CHECK(diff.rules[0].changes == std::vector<std::string>{"phase archive: for 10y -> 5y"});
}

TEST_CASE("policy change: diff --config counts equal what plan reports under each set", "[policy_change][impact]") {
  Demo demo;
  std::string shortened = Shortened(demo.dir);
  std::string c = " --config " + demo.config + " --as-of 2026-11-22";
  auto impact = Json(Retention(fmt::format("policies diff {}/policies {} --format json{}", RETENTION_SOURCE_DIR, shortened, c)));
  auto before = Json(Retention("plan --format json --policies " RETENTION_SOURCE_DIR "/policies" + c));
  auto after = Json(Retention("plan --format json --policies " + shortened + c));
  REQUIRE(impact["recompute"] == nlohmann::json::array({"F05.prestations"}));
  REQUIRE(impact["impact"]["bindings"].size() == 2);  // the binding and its archive view
  for (const auto& b : impact["impact"]["bindings"]) {
    std::string name = b["binding"];
    for (const char* action : {"archive", "pseudonymise", "delete"}) {
      CHECK(b["due_old"][action] == Due(before, name, action));
      CHECK(b["due_new"][action] == Due(after, name, action));
    }
  }
  const auto& main = impact["impact"]["bindings"][0];
  REQUIRE(main["binding"] == "F05.prestations");
  // Shortening only: what becomes due at once is exactly what the plan gains.
  int64_t gained = Due(after, "F05.prestations", "delete") - Due(before, "F05.prestations", "delete");
  CHECK(gained > 0);
  CHECK(main["actions"]["delete"]["at_once"] == gained);
  CHECK(main["actions"]["delete"]["later"] == 0);
  LoadResult shorter = LoadPolicies(shortened);
  CHECK(main["actions"]["delete"]["earlier"] == EarlierByEvaluator(demo, shorter.policies));
  CHECK(main["actions"]["delete"]["sample_keys"]["earlier"].size() == 5);
  // Lengthening moves the same records later and nothing earlier.
  std::string longer = EditedPolicies(demo.dir, "longer", kArchive10y, "      - phase: archive\n        for: 15y");
  auto later = Json(Retention(fmt::format("policies diff {}/policies {} --format json{}", RETENTION_SOURCE_DIR, longer, c)));
  CHECK(later["impact"]["bindings"][0]["actions"]["delete"]["earlier"] == 0);
  CHECK(later["impact"]["bindings"][0]["actions"]["delete"]["later"] > 0);
  // The report's HTML section.
  Process html = Retention(fmt::format("policies diff {}/policies {} --format html{}", RETENTION_SOURCE_DIR, shortened, c));
  REQUIRE(html.code == 0);
  CHECK(html.out.find("<section id=\"policy-change\">") != std::string::npos);
  CHECK(html.out.find("phase archive: for 10y -&gt; 5y") != std::string::npos);
  // The DPO's report with the proposed set: the same counts, and no key printed.
  auto report = Json(Retention("report --format json --proposed " + shortened + c));
  const auto& in_report = report["policy_change"]["impact"]["bindings"][0];
  CHECK(in_report["actions"]["delete"]["earlier"] == main["actions"]["delete"]["earlier"]);
  CHECK(in_report["actions"]["delete"]["at_once"] == gained);
  CHECK(in_report["actions"]["delete"]["sample_keys"]["earlier"].empty());
  Process page = Retention("report --format html --proposed " + shortened + c);
  REQUIRE(page.code == 0);
  size_t section = page.out.find("<section id=\"policy-change\">");
  CHECK(section != std::string::npos);
  CHECK(section < page.out.rfind("</body>"));
  CHECK(Retention("report --format csv --proposed " + shortened + c).code == 2);
}

TEST_CASE("policy lock: a shortened duration on a locked rule is refused with the number of records it would delete early",
          "[policy_change][lock]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  std::string shortened = Shortened(demo.dir);
  Process lock = Retention("policies lock" + c + " --rule F05.prestations --reason 'durée validée' --author 'DPO'");
  INFO(lock.out);
  REQUIRE(lock.code == 0);
  int64_t rows = std::stoll(demo.Db().One("SELECT COUNT(*) FROM prestations_invalidite"));
  int64_t early = EarlierByEvaluator(demo, LoadPolicies(shortened).policies);
  REQUIRE(early > 0);
  Process plan = Retention("plan --format json --as-of 2026-11-22 --policies " + shortened + c);
  INFO(plan.out);
  CHECK(plan.code == 0);  // a plan flags, it changes nothing
  CHECK(plan.out.find("LOCKED, a run would be refused: rule F05.prestations") != std::string::npos);
  Process run = Retention("run --as-of 2026-11-22 --allow-mass --policies " + shortened + c);
  INFO(run.out);
  CHECK(run.code == 4);
  CHECK(run.out.find(fmt::format("rule F05.prestations is locked (lock entry 1, by DPO")) != std::string::npos);
  CHECK(run.out.find(fmt::format("{} record(s) would be acted on earlier than the locked version allows (delete {};",
                                 early, early)) != std::string::npos);
  CHECK(std::stoll(demo.Db().One("SELECT COUNT(*) FROM prestations_invalidite")) == rows);
  CHECK(demo.state->Runs()->empty());
  // The library's run path (also retentiond's) refuses it too.
  LoadResult shorter = LoadPolicies(shortened);
  DeploymentLoad bound = LoadDeployment(demo.config, shorter.policies);
  RunOptions o;
  o.as_of = kToday;
  o.apply = true;
  o.allow_mass = true;
  o.clock = &demo.clock;
  auto refused = PlanOrRun(bound.deployment, shorter.policies, *demo.stores, &*demo.state, o);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Status::Code::kFailedPrecondition);
  // Lengthening passes, and so does the unchanged set.
  std::string longer = EditedPolicies(demo.dir, "longer", kArchive10y, "      - phase: archive\n        for: 15y");
  Process ok = Retention("run --as-of 2026-11-22 --allow-mass --policies " + longer + c);
  INFO(ok.out);
  CHECK(ok.code == 0);
  // A locked rule renamed and shortened (still bound through the catalog id it implements).
  std::string renamed = EditedPolicies(demo.dir, "renamed", "  - id: F05.prestations\n    implements: [F05.prestations]",
                                       "  - id: F05.versements\n    implements: [F05.prestations]");
  std::string text = ReadAll(renamed + "/" + kF05);
  text.replace(text.find(kArchive10y), std::string(kArchive10y).size(), "      - phase: archive\n        for: 5y");
  std::ofstream(renamed + "/" + kF05, std::ios::trunc) << text;
  Process swapped = Retention("run --as-of 2026-11-22 --allow-mass --policies " + renamed + c);
  INFO(swapped.out);
  CHECK(swapped.code == 4);
  CHECK(swapped.out.find("rule F05.prestations is locked") != std::string::npos);
}

TEST_CASE("policy lock: an override needs the key a reason and an author and is in the chain and on the certificate",
          "[policy_change][lock]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  std::string shortened = Shortened(demo.dir);
  REQUIRE(Retention("policies lock" + c + " --all --reason 'gel des durées' --author DPO").code == 0);
  CHECK(Retention("policies unlock" + c + " --rule F05.prestations --author DPO").code == 2);       // no reason
  CHECK(Retention("policies unlock" + c + " --rule F05.prestations --reason x").code == 2);         // no author
  CHECK(Retention("policies unlock" + c + " --rule F99.none --reason x --author DPO").code == 2);   // not locked
  std::string key = demo.dir / "keys/audit.key";
  std::string saved = ReadAll(key);
  SECTION("without the audit key") {
    fs::remove(key);
    Process p = Retention("policies unlock" + c + " --rule F05.prestations --reason x --author DPO");
    CHECK(p.code == 2);
    CHECK(p.out.find("audit key") != std::string::npos);
  }
  SECTION("with another key") {
    std::ofstream(key, std::ios::trunc) << "another key, not the deployment's, long enough to be accepted\n";
    Process p = Retention("policies unlock" + c + " --rule F05.prestations --reason x --author DPO");
    INFO(p.out);
    CHECK(p.code == 4);
    CHECK(p.out.find("does not verify under this audit key") != std::string::npos);
    std::ofstream(key, std::ios::trunc) << saved;
    CHECK(Retention("audit verify" + c).code == 0);  // nothing was appended
  }
  SECTION("overridden") {
    Process p = Retention("policies unlock" + c + " --rule F05.prestations --reason 'délibération du 2026-11-20' --author 'DPO office'");
    INFO(p.out);
    REQUIRE(p.code == 0);
    Process run = Retention("run --as-of 2026-11-22 --allow-mass --policies " + shortened + c);
    INFO(run.out);
    REQUIRE(run.code == 0);
    auto audit = Json(Retention("audit show --format json" + c));
    int unlocks = 0, relied = 0;
    for (const auto& e : audit) {
      if (e["kind"] == "policy_unlock") {
        ++unlocks;
        CHECK(e["detail"]["author"] == "DPO office");
        CHECK(e["rule_id"] == "F05.prestations");
      }
      if (e["kind"] == "lock_override") {
        ++relied;
        CHECK(e["detail"]["overrides"][0]["override_author"] == "DPO office");
      }
    }
    CHECK(unlocks == 1);
    CHECK(relied == 1);
    std::string cert = demo.dir / "state/certificates/run-1.json";
    auto j = nlohmann::json::parse(ReadAll(cert));
    REQUIRE(j["lock_overrides"].is_object());
    CHECK(j["lock_overrides"]["overrides"][0]["rule"] == "F05.prestations");
    CHECK(j["lock_overrides"]["overrides"][0]["records_earlier"] > 0);
    CHECK(ReadAll(demo.dir / "state/certificates/run-1.txt").find("overridden by entry") != std::string::npos);
    CHECK(Retention("audit verify-certificate " + cert + c).code == 0);
    CHECK(Retention("audit verify" + c).code == 0);
    // Another rule still locked: shortening it is refused.
    std::string other = EditedPolicies(demo.dir, "other", "until: fin_droits + 5y\n      - phase: delete\n    holds:",
                                       "until: fin_droits + 1y\n      - phase: delete\n    holds:");
    Process refused = Retention("run --as-of 2026-11-22 --allow-mass --policies " + other + c);
    CHECK(refused.code == 4);
    CHECK(refused.out.find("rule F05.identification is locked") != std::string::npos);
  }
}

TEST_CASE("policy lock: edits of the state database are detected", "[policy_change][lock][forgery]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  REQUIRE(Retention("policies lock" + c + " --rule F05.prestations --reason r --author DPO").code == 0);
  SqliteDb db(demo.load.deployment.state_path);
  SECTION("the lock entry edited to name another rule") {
    db.Exec("UPDATE audit SET rule_id = 'F01.droits' WHERE kind = 'policy_lock'");
  }
  SECTION("the lock entry deleted") { db.Exec("DELETE FROM audit WHERE kind = 'policy_lock'"); }
  SECTION("the locked version's texts shortened") {
    db.Exec("UPDATE policy_versions SET files = replace(files, 'for: 10y', 'for: 1y')");
  }
  SECTION("the locked version deleted") { db.Exec("DELETE FROM policy_versions"); }
  SECTION("a policy file hash assigned another version") {
    db.Exec("UPDATE policy_sets SET version = '0000000000000000000000000000000000000000000000000000000000000000'");
  }
  Process verify = Retention("audit verify" + c);
  INFO(verify.out);
  CHECK(verify.code != 0);
  Process run = Retention("run --as-of 2026-11-22 --allow-mass --policies " + Shortened(demo.dir) + c);
  CHECK(run.code == 4);
}

TEST_CASE("policy versions: the version a run used cannot be deleted unseen", "[policy_change][history][forgery]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  REQUIRE(Retention("run --as-of 2026-11-22 --allow-mass" + c).code == 0);
  REQUIRE(Retention("audit verify" + c).code == 0);
  SqliteDb db(demo.load.deployment.state_path);
  SECTION("its texts deleted") { db.Exec("DELETE FROM policy_versions"); }
  SECTION("its files' hash unassigned") { db.Exec("DELETE FROM policy_sets"); }
  Process verify = Retention("audit verify" + c);
  INFO(verify.out);
  CHECK(verify.code != 0);
  CHECK_THAT(verify.out, Catch::Contains("used by run 1 was deleted"));
}

TEST_CASE("policy versions: history lists each version with the runs that used it", "[policy_change][history]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  std::string cosmetic = EditedPolicies(demo.dir, "cosmetic", kArchive10y, "      - phase: archive  # ten years\n        for: 10y");
  std::string longer = EditedPolicies(demo.dir, "longer", kArchive10y, "      - phase: archive\n        for: 15y");
  REQUIRE(Retention("run --as-of 2026-11-20 --allow-mass" + c).code == 0);
  REQUIRE(Retention("run --as-of 2026-11-21 --allow-mass --policies " + cosmetic + c).code == 0);
  REQUIRE(Retention("plan --as-of 2026-11-22 --policies " + longer + c).code == 0);
  REQUIRE(Retention("run --as-of 2026-11-22 --allow-mass --policies " + longer + c).code == 0);
  auto history = Json(Retention("policies history --format json" + c));
  REQUIRE(history.size() == 2);
  CHECK(history[0]["version"] == PolicyVersionId(demo.policies.policies));
  CHECK(history[0]["policy_hashes"].size() == 2);  // the cosmetic edit is the same version
  CHECK(history[0]["runs"].size() == 2);
  CHECK(history[0]["runs"][1]["as_of"] == "2026-11-21");
  CHECK(history[1]["version"] == PolicyVersionId(LoadPolicies(longer).policies));
  CHECK(history[1]["plans"] == 1);
  REQUIRE(history[1]["runs"].size() == 1);
  CHECK(history[1]["runs"][0]["run"] == 3);
  // A recorded version is a side of a diff.
  std::string id = history[0]["version"].get<std::string>().substr(0, 12);
  Process diff = Retention("policies diff " + id + " " + longer + c + " --as-of 2026-11-22");
  INFO(diff.out);
  CHECK(diff.code == 0);
  CHECK(diff.out.find("phase archive: for 10y -> 15y") != std::string::npos);
  CHECK(Retention("audit verify" + c).code == 0);
}

TEST_CASE("policy change: bad arguments exit 2 with a clear message", "[policy_change][cli]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  std::string p = RETENTION_SOURCE_DIR "/policies";
  auto two = [](const std::string& args, const std::string& message) {
    Process r = Retention(args);
    INFO(args << "\n" << r.out);
    CHECK(r.code == 2);
    CHECK(r.out.find(message) != std::string::npos);
  };
  two("policies diff " + p + " /nonexistent", "NEW '/nonexistent' is not a policy folder");
  two("policies diff 0123456789ab " + p, "OLD '0123456789ab' is not a policy folder (a recorded version needs --config)");
  two("policies diff " + p + " " + p + " --as-of 2026-11-22", "--as-of needs --config");
  Process empty = Retention("policies history" + c);
  CHECK(empty.code == 0);
  CHECK(empty.out.find("none yet") != std::string::npos);
  two("policies lock" + c + " --reason r --author a", "give --rule ID (repeatable) or --all");
  two("policies lock" + c + " --rule F05.prestations --all --reason r --author a", "give --rule ID (repeatable) or --all");
  two("policies lock" + c + " --rule F99.nothing --reason r --author a", "unknown rule 'F99.nothing'");
  two("policies lock" + c + " --rule F05.prestations --author a", "--reason is required");
  two("policies unlock" + c + " --rule F05.prestations --reason r --author a", "rule 'F05.prestations' is not locked");
  REQUIRE(Retention("plan --as-of 2026-11-22" + c).code == 0);  // the state database now holds a version
  two("policies diff deadbeefdeadbeef " + p + c, "0 recorded policy version(s) start with 'deadbeefdeadbeef'");
  two("policies diff xyz " + p + c, "'xyz' is not a policy version");
}
