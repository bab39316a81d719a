// The `retention` executable as a user runs it: output shape and exit codes.


#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/process.h"

namespace {

using Run = retention::testing::Process;
using retention::testing::Retention;

Run Raw(const std::string& args) { return Retention(args); }

// With the shipped policies.
Run Cli(const std::string& args) { return Raw(args + " --policies " RETENTION_SOURCE_DIR "/policies"); }

}  // namespace

TEST_CASE("explain --format json: the issue's example", "[cli]") {
  Run r = Cli("explain --rule F01.droits --fact fin_droits=2023-11-21 --as-of 2026-11-22 --format json");
  INFO(r.out);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["rule"] == "F01.droits");
  CHECK(j["as_of"] == "2026-11-22");
  CHECK(j["status"] == "due");
  CHECK(j["due"] == "delete");
  REQUIRE(j["timeline"].size() == 1);
  CHECK(j["timeline"][0]["action"] == "delete");
  CHECK(j["timeline"][0]["from"] == "2026-11-22");
  for (const char* key : {"missing", "holds", "derivation"}) CHECK(j[key].is_array());
  CHECK_FALSE(j["derivation"].empty());
}

TEST_CASE("explain: a hold has an empty timeline and a null due", "[cli]") {
  Run r = Cli("explain --rule F02.droits --fact fin_droits=2015-01-01 --fact contentieux=true --as-of 2026-11-22 --format json");
  INFO(r.out);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["status"] == "hold");
  CHECK(j["timeline"].empty());
  CHECK(j["due"].is_null());
  CHECK(j["holds"].size() == 1);
}

TEST_CASE("explain: bad input is exit code 2 with a message", "[cli]") {
  auto [args, message] = GENERATE(table<std::string, std::string>({
      {"explain --rule F99.nothing --fact fin_droits=2023-11-21", "unknown rule 'F99.nothing'"},
      {"explain --rule F01.droits --fact fin_droit=2023-11-21", "unknown fact 'fin_droit'"},
      {"explain --rule F01.droits --fact fin_droits=2023-02-30", "'2023-02-30' is not a valid date"},
      {"explain --rule F01.droits --fact fin_droits", "must be NAME=VALUE"},
      {"explain --rule F02.droits --fact contentieux=peut-etre", "expected true or false"},
      {"explain --rule F01.droits --as-of 2026-13-01", "--as-of '2026-13-01' is not a valid date"},
      {"explain --rule F01.droits --format xml", "--format"},
      {"explain --fact fin_droits=2023-11-21", "--rule is required"},
  }));
  Run r = Cli(args);
  INFO(args << "\n" << r.out);
  CHECK(r.code == 2);
  CHECK(r.out.find(message) != std::string::npos);
}

TEST_CASE("help teaches and exits 0, an unknown command exits 2", "[cli]") {
  Run help = Raw("explain --help");
  CHECK(help.code == 0);
  CHECK(help.out.find("Examples:") != std::string::npos);
  CHECK(Raw("--help").code == 0);
  CHECK(Raw("frobnicate").code == 2);
  CHECK(Raw("").code == 2);
}

TEST_CASE("policies check: exit 1 and located diagnostics on a broken folder", "[cli]") {
  Run bad = Raw("policies check " RETENTION_SOURCE_DIR "/tests/golden");
  INFO(bad.out);
  CHECK(bad.code == 1);
  CHECK(bad.out.find("three_mistakes.yaml:12:33: error: bad duration '5 ams'") != std::string::npos);
}
