// Hostile inputs at the library level: durations and dates that used to wrap around,
// date facts read strictly (timestamps to their Paris date), configuration numbers and
// duplicate keys, secret files that are not regular files, approved plans of the wrong
// shape, store text that could break the plan's output, and owner-only created files.
// The command-line corpus is tests/hostile/ (docs/reliability.md).
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <chrono>
#include <limits>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "retention/connectors.h"
#include "retention/deployment.h"
#include "crypto/digest.h"
#include "plan/record_facts.h"
#include "retention/run.h"
#include "retention/secrets.h"
#include "support/droits_config.h"
#include "support/shipped.h"
#include "support/sqlite_db.h"

using namespace retention;
using retention::testing::kDroitsOnSqlite;
using retention::testing::Shipped;
using retention::testing::TempDir;
namespace fs = std::filesystem;

namespace {

Date D(const char* text) { return *Date::Parse(text); }

std::string Fact(const char* text) {
  auto d = ParseDateFact(text);
  return d ? d->ToString() : "none";
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

DeploymentLoad LoadConfig(const std::string& yaml, const std::string& base) {
  return LoadDeploymentText(yaml, "deploy.yaml", base, Shipped());
}

bool HasMessage(const Diagnostics& diagnostics, const std::string& text, int line = 0) {
  for (const auto& d : diagnostics)
    if (d.message.find(text) != std::string::npos && (line == 0 || d.line == line)) return true;
  return false;
}

// The shared deployment with a guard (line 10), whose numbers the tests below spoil.
const std::string kConfig = std::string(kDroitsOnSqlite) + "    guard: {max_rows: 10, max_fraction: 0.5}\n";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("durations longer than 9999 years and year 0 are refused when read", "[hardening][date]") {
  CHECK(Duration::Parse("9999y") == Duration{9999, DurationUnit::kYears});
  CHECK_FALSE(Duration::Parse("10000y"));
  CHECK_FALSE(Duration::Parse("100000y"));
  CHECK_FALSE(Duration::Parse("119989m"));
  CHECK(Duration::Parse("119988m"));
  CHECK_FALSE(Duration::Parse("99999999999999999999d"));
  CHECK_FALSE(Date::Parse("0000-01-01"));
  CHECK(Date::Parse("0001-01-01"));
  CHECK(Date::Parse("9999-12-31"));
}

TEST_CASE("date arithmetic saturates instead of wrapping around", "[hardening][date]") {
  Date d = D("2030-06-15");
  // 100000 years used to wrap the 16-bit chrono year into the past: "due now".
  CHECK(Add(d, Duration{100000, DurationUnit::kYears}) == Date::Max());
  CHECK(d.AddYears(std::numeric_limits<int>::max()) == Date::Max());
  CHECK(d.AddMonths(std::numeric_limits<int64_t>::max()) == Date::Max());
  CHECK(d.AddDays(std::numeric_limits<int>::max()) == Date::Max());
  CHECK(Add(d, Duration{std::numeric_limits<int>::max(), DurationUnit::kWeeks}) == Date::Max());
  CHECK(d.AddYears(-100000) == Date::Min());
  CHECK(d.AddDays(std::numeric_limits<int>::min()) == Date::Min());
  CHECK(Date::Max().AddDays(1) == Date::Max());
  CHECK(Date::Max().ToString() == "32767-12-31");
  // The longest accepted duration twice over stays in range and in order.
  Date far = Add(Add(D("9999-12-31"), Duration{9999, DurationUnit::kYears}), Duration{9999, DurationUnit::kYears});
  CHECK(far.ToString() == "29997-12-31");
  CHECK(far > d);
  CHECK(SmallestReaching(Duration{9999, DurationUnit::kYears}, D("2030-01-01")).ToString() == "-7969-01-01");
}

TEST_CASE("a policy with a 100000-year retention is an error with its location", "[hardening][date]") {
  Diagnostics ignored;
  Vocabulary v = LoadVocabulary(RETENTION_SOURCE_DIR "/tests/golden/facts.yaml", &ignored);
  const std::string policy = R"(fiche: 1
domain: "01 | Gestion des droits"
title: "t"
legal_basis: ["b"]
rules:
  - id: F01.droits
    implements: [F01.droits]
    source: "3 ans après la fin de validité des droits"
    facts: [fin_droits]
    phases:
      - phase: active
        until: fin_droits + 100000y
      - phase: delete
)";
  LoadResult r = LoadPolicyText(policy, "F01.yaml", v);
  std::string all;
  for (const auto& d : r.diagnostics) all += d.ToString() + "\n";
  INFO(all);
  CHECK(all.find("F01.yaml:12:29: error: bad duration '100000y'") != std::string::npos);
  LoadResult year0 = LoadPolicyText(Replace(policy, "fin_droits + 100000y", "0000-01-01"), "F01.yaml", v);
  CHECK(HasMessage(year0.diagnostics, "'0000-01-01' is not a real date", 12));
}

TEST_CASE("a date fact is a date or an RFC 3339 timestamp, read as its Paris date", "[hardening][facts]") {
  CHECK(Fact("2023-11-21") == "2023-11-21");
  CHECK(Fact("2023-11-21T23:30:00Z") == "2023-11-22");   // 00:30 in Paris (CET)
  CHECK(Fact("2023-11-21T22:59:59Z") == "2023-11-21");
  CHECK(Fact("2023-11-21 23:30:00+00") == "2023-11-22");  // PostgreSQL's text form
  CHECK(Fact("2023-11-22T00:30:00+01:00") == "2023-11-22");
  CHECK(Fact("2023-11-21T18:30:00.123456-05:00") == "2023-11-22");
  CHECK(Fact("2023-11-22T05:00:00+0630") == "2023-11-21");
  CHECK(Fact("2023-11-21 09:30:00") == "2023-11-21");  // no zone: a civil time already
  SECTION("the day summer time starts: last Sunday of March, 01:00 UTC") {
    CHECK(Fact("2024-03-30T22:59:00Z") == "2024-03-30");  // 23:59 CET
    CHECK(Fact("2024-03-30T23:30:00Z") == "2024-03-31");  // 00:30 CET
    CHECK(Fact("2024-03-31T00:59:00Z") == "2024-03-31");  // 01:59 CET, the last minute of winter time
    CHECK(Fact("2024-03-31T21:59:00Z") == "2024-03-31");  // 23:59 CEST
    CHECK(Fact("2024-03-31T22:00:00Z") == "2024-04-01");  // 00:00 CEST: an hour earlier than in winter
  }
  SECTION("the day summer time ends: last Sunday of October, 01:00 UTC") {
    CHECK(Fact("2024-10-26T21:59:00Z") == "2024-10-26");  // 23:59 CEST
    CHECK(Fact("2024-10-26T22:00:00Z") == "2024-10-27");  // 00:00 CEST
    CHECK(Fact("2024-10-27T00:59:00Z") == "2024-10-27");  // 02:59 CEST
    CHECK(Fact("2024-10-27T22:59:00Z") == "2024-10-27");  // 23:59 CET
    CHECK(Fact("2024-10-27T23:00:00Z") == "2024-10-28");  // 00:00 CET
  }
  SECTION("anything else is unreadable") {
    for (const char* bad : {"2015-01-01garbage", "2015-01-01T", "2015-01-01T10:00", "2015-01-01T24:00:00Z",
                            "2015-01-01T10:60:00Z", "2015-01-01T10:00:00+1", "2015-01-01T10:00:00+01:", "2015-01-01T10:00:00Zx",
                            "2015-01-01T10:00:00.Z", "2015-02-30T10:00:00Z", "0000-01-01T10:00:00Z", "2015-01-01\n",
                            "2015-01-01x10:00:00Z", "\xff\xfe"}) {
      INFO(bad);
      CHECK(Fact(bad) == "none");
    }
  }
}

TEST_CASE("an unreadable fact makes the record invalid_fact without showing the value", "[hardening][facts]") {
  RawRecord r;
  r.key = "7";
  r.facts = {std::string("2015-01-01garbage"), std::string("2023-11-21T23:30:00Z")};
  auto facts = ParseRecordFacts(Shipped().vocabulary, {"fin_droits", "collecte"}, r);
  REQUIRE_FALSE(facts.ok());
  CHECK(facts.status().message().find("invalid_fact: fact 'fin_droits' (value 1 of 2 read)") != std::string::npos);
  CHECK(facts.status().message().find("garbage") == std::string::npos);
  r.facts[0] = std::string("2015-01-01");
  facts = ParseRecordFacts(Shipped().vocabulary, {"fin_droits", "collecte"}, r);
  REQUIRE(facts.ok());
  CHECK(std::get<Date>(facts->at("collecte")) == D("2023-11-22"));
  r.facts[1] = std::string("\xff");
  facts = ParseRecordFacts(Shipped().vocabulary, {"fin_droits", "collecte"}, r);
  REQUIRE_FALSE(facts.ok());
  CHECK(facts.status().message().find("fact 'collecte' (value 2 of 2 read)") != std::string::npos);
}

TEST_CASE("every number of the configuration is checked, NaN included", "[hardening][config]") {
  TempDir dir;
  auto errors = [&](const std::string& from, const std::string& to) {
    return LoadConfig(Replace(kConfig, from, to), dir.path().string()).diagnostics;
  };
  CHECK_FALSE(HasErrors(LoadConfig(kConfig, dir.path().string()).diagnostics));
  CHECK(HasMessage(errors("max_fraction: 0.5", "max_fraction: .nan"), "max_fraction must be a number between 0 and 1", 10));
  CHECK(HasMessage(errors("max_fraction: 0.5", "max_fraction: .NaN"), "max_fraction must be a number between 0 and 1"));
  CHECK(HasMessage(errors("max_fraction: 0.5", "max_fraction: -.inf"), "max_fraction must be a number between 0 and 1"));
  CHECK(HasMessage(errors("max_fraction: 0.5", "max_fraction: 1.5"), "max_fraction must be a number between 0 and 1"));
  CHECK(HasMessage(errors("max_rows: 10", "max_rows: -1"), "max_rows must be 0 or more", 10));
  CHECK(HasMessage(errors("max_rows: 10", "max_rows: 1e99"), "'max_rows' must be an integer"));
  CHECK(HasMessage(errors("key: id", "key: id\n    batch_size: .nan"), "'batch_size' must be an integer"));
}

TEST_CASE("a key given twice in a YAML map is an error at the second one", "[hardening][config]") {
  TempDir dir;
  auto d = LoadConfig(Replace(kConfig, "    key: id\n", "    key: id\n    key: nir\n"), dir.path().string());
  for (const auto& x : d.diagnostics) UNSCOPED_INFO(x.ToString());
  REQUIRE(d.diagnostics.size() == 1);
  CHECK(d.diagnostics[0].ToString() == "deploy.yaml:9:5: error: duplicate key 'key' in this map (each key at most once)");
  auto top = LoadConfig(std::string(kConfig) + "state: other.db\n", dir.path().string());
  CHECK(HasMessage(top.diagnostics, "duplicate key 'state'", 11));
}

TEST_CASE("the state database cannot be a data store's file or lie inside a files store", "[hardening][config]") {
  TempDir dir;
  auto same = LoadConfig(Replace(kConfig, "state: state.db", "state: ./main.db"), dir.path().string());
  CHECK(HasMessage(same.diagnostics, "is the file of store 'main'", 1));
  std::string files = R"(state: scans/sub/state.db
stores:
  scans: {type: files, directory: scans}
bindings:
  - rule: F86.videosurveillance
    store: scans
    facts: {collecte: {mtime: true}}
)";
  auto inside = LoadConfig(files, dir.path().string());
  CHECK(HasMessage(inside.diagnostics, "is inside store 'scans'", 1));
  auto apart = LoadConfig(Replace(files, "scans/sub/state.db", "scans-state.db"), dir.path().string());
  CHECK_FALSE(HasErrors(apart.diagnostics));
}

TEST_CASE("secret files: a FIFO, a directory or a shared file is refused at once", "[hardening][secrets]") {
  TempDir dir;
  std::string fifo = dir / "fifo.key";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto start = std::chrono::steady_clock::now();
  auto k = LoadKey(fifo, "");  // used to block until a writer came
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  REQUIRE_FALSE(k.ok());
  CHECK(k.status().message() == "key file " + fifo + " is not a regular file");
  fs::create_directory(dir / "d.key");
  CHECK(ReadSecretFile(dir / "d.key").status().message().find("is not a regular file") != std::string::npos);
  CHECK(LoadKey(dir / "missing.key", "").status().code() == Status::Code::kNotFound);
  std::ofstream(dir / "k.key") << "  s3cret\n";
  ::chmod((dir / "k.key").c_str(), 0640);
  auto shared = ReadSecretFile(dir / "k.key");
  REQUIRE_FALSE(shared.ok());
  CHECK(shared.status().message().find("owner-only") != std::string::npos);
  CHECK(shared.status().message().find("s3cret") == std::string::npos);
  ::chmod((dir / "k.key").c_str(), 0600);
  CHECK(*ReadSecretFile(dir / "k.key") == "s3cret");
  std::ofstream(dir / "big.key") << std::string(kMaxSecretBytes + 1, 'x');
  ::chmod((dir / "big.key").c_str(), 0600);
  CHECK_FALSE(ReadSecretFile(dir / "big.key").ok());
}

TEST_CASE("an approved plan with wrongly typed fields is refused, never thrown on", "[hardening][plans]") {
  for (const char* text :
       {R"({"as_of": 5, "bindings": []})", R"({"as_of": "2026-11-22", "bindings": 7})",
        R"({"as_of": "2026-11-22", "policy_set": [], "bindings": []})",
        R"({"as_of": "2026-11-22", "bindings": [{"binding": 3, "due": {"delete": {"count": 1}}}]})",
        R"({"as_of": "2026-11-22", "bindings": [{"binding": "b", "due": {"delete": 4}}]})",
        R"({"as_of": "2026-11-22", "bindings": [{"binding": "b", "due": {"delete": {"count": "4"}}}]})",
        R"({"as_of": "2026-11-22", "bindings": [{"binding": "b", "due": {"delete": {"count": -4}}}]})",
        R"({"as_of": "2026-11-22", "bindings": [{"binding": "b", "due": {"delete": {"count": 1.5}}}]})",
        R"({"as_of": "2026-11-22", "bindings": [{"binding": "b", "due": {"delete": {}}}]})", "[]", "{", ""}) {
    INFO(text);
    auto plan = ParseApprovedPlan(text);  // refused with a message, never an exception
    REQUIRE_FALSE(plan.ok());
    CHECK_FALSE(plan.status().message().empty());
  }
}

TEST_CASE("keys with newlines or invalid UTF-8 cannot break the plan's text or JSON", "[hardening][plans]") {
  Plan plan;
  plan.as_of = D("2026-11-22");
  BindingPlan b;
  b.binding = "files";
  b.rule_id = "F05.prestations";
  b.due[Phase::kDelete].count = 2;
  b.due[Phase::kDelete].sample_keys = {"a\nGUARD: forged line", "b\xff\xfe.pdf"};
  b.errors = {"record c\r\nd: invalid_fact"};
  plan.bindings.push_back(b);
  std::string text = PlanToText(plan);
  INFO(text);
  CHECK(text.find("delete e.g. keys a\\nGUARD: forged line, b\xff\xfe.pdf\n") != std::string::npos);
  CHECK(text.find("\nGUARD") == std::string::npos);
  CHECK(text.find("skipped record c\\x0d\\nd: invalid_fact\n") != std::string::npos);
  std::string json = PlanToJson(plan);  // used to throw on the invalid UTF-8
  auto parsed = nlohmann::json::parse(json, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  CHECK(parsed["bindings"][0]["due"]["delete"]["sample_keys"][0] == "a\nGUARD: forged line");
  CHECK(parsed["bindings"][0]["due"]["delete"]["sample_keys"][1] == "b\xEF\xBF\xBD\xEF\xBF\xBD.pdf");
}

TEST_CASE("files the engine creates for personal data are owner-only", "[hardening][files]") {
  TempDir dir;
  CHECK(CreatePrivateFile(dir / "p.db").ok());
  CHECK(ModeOf(dir / "p.db") == 0600);
  ::chmod((dir / "p.db").c_str(), 0640);
  CHECK(CreatePrivateFile(dir / "p.db").ok());  // an existing file is left as it is
  CHECK(ModeOf(dir / "p.db") == 0640);
  fs::create_symlink(dir / "elsewhere.db", dir / "link.db");
  CreatePrivateFile(dir / "link.db");  // never through a symlink
  CHECK_FALSE(fs::exists(dir / "elsewhere.db"));
  // A SQLite store the engine creates (an archive) and the state database.
  StoreConfig store;
  store.name = "archive";
  store.type = "sqlite";
  store.path = dir / "archive.db";
  Deployment d;
  d.stores.push_back(store);
  ConnectorRegistry registry;
  RegisterBuiltinConnectors(registry);
  auto stores = Stores::Open(d, registry);
  REQUIRE(stores.ok());
  CHECK(ModeOf(dir / "archive.db") == 0600);
  auto state = StateDb::Open(dir / "state.db", "key");
  REQUIRE(state.ok());
  CHECK(ModeOf(dir / "state.db") == 0600);
  CHECK(ModeOf(dir / "state.db-wal") == 0600);
}

TEST_CASE("HMAC-SHA-256 matches RFC 4231 whatever the order of keys", "[hardening][crypto]") {
  // RFC 4231 test cases 1 and 6 (a key longer than the block is hashed first), and
  // case 2, alternated: the digest keeps one key's pads per thread and must switch.
  const std::string key1(20, '\x0b'), key6(131, '\xaa');
  const std::string data6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  for (int round = 0; round < 2; ++round) {
    CHECK(internal::HmacSha256Hex(key1, "Hi There") == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    CHECK(internal::HmacSha256Hex(key6, data6) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    CHECK(internal::HmacSha256Hex("Jefe", "what do ya want for nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(internal::HmacSha256Hex("", "") == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  }
}
