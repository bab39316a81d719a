// Loader diagnostics, pinned by golden files: tests/golden/NAME.yaml is loaded against
// tests/golden/facts.yaml and its diagnostics must equal NAME.baseline line for line.
// RETENTION_UPDATE_GOLDEN=1 rewrites the baselines (review the diff before committing).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "retention/policy.h"
#include "support/sqlite_db.h"

namespace fs = std::filesystem;
using namespace retention;

namespace {

const fs::path kGolden = RETENTION_SOURCE_DIR "/tests/golden";

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Vocabulary TestVocabulary() {
  Diagnostics d;
  Vocabulary v = LoadVocabulary((kGolden / "facts.yaml").string(), &d);
  REQUIRE(d.empty());
  return v;
}

std::string DiagnosticsOf(const std::string& name) {
  LoadResult r = LoadPolicyText(Read(kGolden / (name + ".yaml")), name + ".yaml", TestVocabulary());
  std::string out;
  for (const auto& d : r.diagnostics) out += d.ToString() + "\n";
  return out;
}

}  // namespace

TEST_CASE("loader diagnostics match the golden baselines", "[loader][golden]") {
  auto name = GENERATE(as<std::string>{}, "three_mistakes", "structure", "expressions", "invalid_yaml");
  std::string got = DiagnosticsOf(name);
  fs::path baseline = kGolden / (name + ".baseline");
  if (std::getenv("RETENTION_UPDATE_GOLDEN")) std::ofstream(baseline) << got;
  INFO(name << ":\n" << got);
  REQUIRE(fs::exists(baseline));
  CHECK(got == Read(baseline));
}

TEST_CASE("a policy with three different mistakes gets three located diagnostics", "[loader]") {
  LoadResult r = LoadPolicyText(Read(kGolden / "three_mistakes.yaml"), "three_mistakes.yaml", TestVocabulary());
  std::vector<std::string> errors;
  for (const auto& d : r.diagnostics) {
    CHECK(d.line > 0);
    CHECK(d.column > 0);
    errors.push_back(d.message);
  }
  REQUIRE(errors.size() >= 3);
  auto has = [&](const std::string& part) {
    return std::any_of(errors.begin(), errors.end(), [&](const std::string& m) { return m.find(part) != std::string::npos; });
  };
  CHECK(has("bad duration '5 ams'"));
  CHECK(has("unknown fact 'fin_droit'"));
  CHECK(has("unknown action 'purge'"));
}

TEST_CASE("a clean policy loads without diagnostics", "[loader]") {
  const char* text = R"(fiche: 1
domain: "01 | Gestion des droits"
title: "ok"
legal_basis: ["x"]
rules:
  - id: F01.droits
    implements: [F01.droits]
    source: "3 ans après la fin de validité des droits"
    facts: [fin_droits]
    phases:
      - {phase: active, until: fin_droits + 3y}
      - {phase: delete}
)";
  LoadResult r = LoadPolicyText(text, "ok.yaml", TestVocabulary());
  CHECK(r.diagnostics.empty());
  REQUIRE(r.policies.policies.size() == 1);
  const Rule* rule = r.policies.FindRule("F01.droits");
  REQUIRE(rule);
  CHECK(rule->summary == "active through fin_droits + 3y, then delete");
}

TEST_CASE("a folder without facts.yaml is refused", "[loader]") {
  // A real folder with a valid policy in it, only the vocabulary is missing.
  retention::testing::TempDir dir;
  fs::copy_file(RETENTION_SOURCE_DIR "/policies/01_gestion_des_droits/F01.yaml", dir.path() / "F01.yaml");
  LoadResult r = LoadPolicies(dir.path().string());
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].file == (dir.path() / "facts.yaml").string());
  CHECK(r.diagnostics[0].message.find("vocabulary of facts is missing") != std::string::npos);
}

TEST_CASE("a path that is not a folder is refused", "[loader]") {
  LoadResult r = LoadPolicies((kGolden / "no_such_folder").string());
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].message == "not a directory of policies");
}
