// Runs the per-fiche cases in tests/cases/*.yaml against the shipped policies. Each
// case's expected timeline was derived by hand from the register's French text (its
// `why`), not from the engine's output.
#include <filesystem>
#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "support/shipped.h"
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "retention/evaluator.h"
#include "retention/policy.h"

namespace fs = std::filesystem;
using namespace retention;
using retention::testing::Shipped;

namespace {


std::vector<fs::path> CaseFiles() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(RETENTION_SOURCE_DIR "/tests/cases"))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string Where(const fs::path& file, const YAML::Node& node) {
  return fmt::format("{}:{}", file.filename().string(), node.Mark().line + 1);
}

void RunCase(const fs::path& file, const YAML::Node& c) {
  INFO(Where(file, c) << " " << c["rule"].as<std::string>() << ": " << c["why"].as<std::string>(""));
  REQUIRE(c["why"]);  // every case says how it was derived from the text
  const Rule* rule = Shipped().FindRule(c["rule"].as<std::string>());
  REQUIRE(rule != nullptr);
  Facts facts;
  for (const auto& f : c["facts"]) {
    auto name = f.first.as<std::string>();
    auto value = ParseFactValue(Shipped().vocabulary, name, f.second.as<std::string>());
    INFO("fact " << name << ": " << value.status().message());
    REQUIRE(value.ok());
    facts[name] = *value;
  }
  auto as_of = Date::Parse(c["as_of"].as<std::string>());
  REQUIRE(as_of);
  Evaluation e = Evaluate(*rule, facts, *as_of);
  std::string derivation;
  for (const auto& d : e.derivation) derivation += "\n  " + d;
  INFO("derivation:" << derivation);
  CHECK(std::string(EvalStatusName(e.status)) == c["status"].as<std::string>());
  if (c["timeline"]) {
    std::vector<std::string> got, want;
    for (const auto& t : e.timeline) got.push_back(fmt::format("{} {}", PhaseName(t.action), t.from.ToString()));
    for (const auto& t : c["timeline"])
      for (const auto& kv : t) want.push_back(kv.first.as<std::string>() + " " + kv.second.as<std::string>());
    CHECK(got == want);
  }
  if (c["due"]) {
    std::string want = c["due"].IsNull() ? "null" : c["due"].as<std::string>();
    CHECK((e.due ? PhaseName(*e.due) : "null") == want);
  }
  if (c["missing"]) CHECK(e.missing == c["missing"].as<std::vector<std::string>>());
}

// Catch re-enters a test case once per section: the case files are parsed once, here.
const std::vector<std::pair<fs::path, YAML::Node>>& CaseDocuments() {
  static const auto documents = [] {
    std::vector<std::pair<fs::path, YAML::Node>> out;
    for (const auto& file : CaseFiles()) out.emplace_back(file, YAML::LoadFile(file.string()));
    return out;
  }();
  return documents;
}

}  // namespace

TEST_CASE("per-fiche cases derived from the register's text", "[policies][cases]") {
  const auto& documents = CaseDocuments();
  REQUIRE_FALSE(documents.empty());
  for (const auto& [file, doc] : documents) {
    INFO(file.filename().string());
    REQUIRE(doc.IsSequence());
    for (const auto& c : doc) {
      DYNAMIC_SECTION(Where(file, c)) { RunCase(file, c); }
    }
  }
}

TEST_CASE("every fiche 1..87 has a policy, a case file, and every rule quotes its source", "[policies]") {
  LoadResult loaded = LoadPolicies(RETENTION_SOURCE_DIR "/policies");
  for (const auto& d : loaded.diagnostics) UNSCOPED_INFO(d.ToString());
  REQUIRE_FALSE(HasErrors(loaded.diagnostics));
  std::set<int> fiches;
  for (const auto& p : loaded.policies.policies) {
    fiches.insert(p.fiche);
    for (const auto& r : p.rules) {
      INFO(r.id);
      CHECK(r.source.size() >= 10);
      CHECK_FALSE(r.implements.empty());
      if (r.manual) CHECK(r.manual_reason.size() >= 10);
    }
  }
  std::set<std::string> case_files;
  for (const auto& f : CaseFiles()) case_files.insert(f.stem().string());
  for (int n = 1; n <= 87; ++n) {
    INFO("fiche " << n);
    CHECK(fiches.count(n) == 1);
    CHECK(case_files.count(fmt::format("F{:02}", n)) == 1);
  }
}
