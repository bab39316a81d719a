// The engine as a library (docs/library.md): checked evaluation, custom connector types
// bound from a configuration, errors as values, no process-wide state, Europe/Paris
// without the process time zone.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "../examples/custom_connector/jsonl_connector.h"
#include "retention/clock.h"
#include "retention/connectors.h"
#include "retention/evaluator.h"
#include "retention/open.h"
#include "retention/run.h"
#include "retention/version.h"
#include "support/process.h"
#include "support/shipped.h"
#include "support/sqlite_db.h"

using namespace retention;
using namespace retention::testing;

namespace {

void Write(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

// A deployment binding F01.droits to a JSON-lines store (examples/custom_connector).
std::string JsonlDeployment(const TempDir& dir, const std::string& store_settings) {
  std::filesystem::create_directories(dir.path() / "data");
  Write(dir / "data/droits.jsonl",
        "{\"id\": \"1\", \"nir\": \"a\", \"fin_droits\": \"2019-06-30\"}\n"
        "{\"id\": \"2\", \"nir\": \"b\", \"fin_droits\": \"2024-01-31\"}\n"
        "{\"id\": \"3\", \"nir\": \"c\", \"fin_droits\": null}\n");
  Write(dir / "audit.key", "0123456789abcdef0123456789abcdef", 0600);
  std::string config = dir / "c.yaml";
  Write(config, fmt::format("state: state.db\naudit_key: {{file: audit.key}}\nstores:\n  exports: {}\n"
                            "bindings:\n  - rule: F01.droits\n    store: exports\n    table: droits\n    key: id\n"
                            "    subject: nir\n    facts: {{fin_droits: fin_droits}}\n"
                            "    guard: {{max_rows: 100, max_fraction: 1}}\n", store_settings));
  return config;
}

OpenOptions Options(const std::string& config, const ConnectorRegistry* registry) {
  OpenOptions o;
  o.config = config;
  o.policies_dir = RETENTION_SOURCE_DIR "/policies";
  o.registry = registry;
  return o;
}

std::string Messages(const OpenResult& r) {
  std::string out = r.status.message();
  for (const auto& d : r.diagnostics) out += "\n" + d.ToString();
  return out;
}

}  // namespace

TEST_CASE("library: EvaluateRule rejects unknown facts and values of the wrong type", "[library]") {
  const PolicySet& set = Shipped();
  Date as_of = *Date::Parse("2026-11-22");
  auto ok = EvaluateRule(set, "F01.droits", {{"fin_droits", *Date::Parse("2023-11-21")}}, as_of);
  REQUIRE(ok.ok());
  CHECK(ok->status == EvalStatus::kDue);

  auto misspelt = EvaluateRule(set, "F01.droits", {{"fin_droit", *Date::Parse("2023-11-21")}}, as_of);
  REQUIRE_FALSE(misspelt.ok());
  CHECK(misspelt.status().message() == "unknown fact 'fin_droit'");

  // A flag where a date is expected is an error, not a missing fact.
  auto flag = EvaluateRule(set, "F01.droits", {{"fin_droits", true}}, as_of);
  REQUIRE_FALSE(flag.ok());
  CHECK(flag.status().message() == "fact 'fin_droits' is a date, not a flag ('true')");

  auto word = EvaluateRule(set, "F02.droits", {{"fin_droits", *Date::Parse("2020-01-31")}}, as_of,
                           {{"contentieux", std::string("peut-etre")}});
  REQUIRE_FALSE(word.ok());
  CHECK(word.status().message().find("assumption: fact 'contentieux' is a flag") == 0);

  auto rule = EvaluateRule(set, "F99.nothing", {}, as_of);
  REQUIRE_FALSE(rule.ok());
  CHECK(rule.status().code() == Status::Code::kNotFound);

  auto parsed = ParseFacts(set.vocabulary, {{"fin_droits", "2020-02-30"}});
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().message().find("not a valid date") != std::string::npos);
}

TEST_CASE("library: Result value() on an error aborts with the error message", "[library]") {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    Result<int> r = Status::NotFound("no such record");
    std::_Exit(r.value() == 0 ? 10 : 11);  // never reached: value() aborts
  }
  ::close(pipe_fds[1]);
  std::string err;
  char buf[256];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(err == "retention: value() called on an error result: no such record\n");
}

TEST_CASE("library: a custom connector type is registered and bound from a configuration", "[library]") {
  TempDir dir;
  std::string config = JsonlDeployment(dir, "{type: jsonl, directory: data}");
  ConnectorRegistry builtin;
  RegisterBuiltinConnectors(builtin);

  // Not registered: the type is refused where it is written, naming the known ones.
  OpenResult unknown = OpenDeployment(Options(config, &builtin));
  REQUIRE_FALSE(unknown.opened);
  INFO(Messages(unknown));
  CHECK(Messages(unknown).find("c.yaml:4:19: error: unknown store type 'jsonl' (expected files, postgres, sqlite)") !=
        std::string::npos);

  ConnectorRegistry registry = builtin;
  example::RegisterJsonLinesConnector(registry);
  OpenResult r = OpenDeployment(Options(config, &registry));
  INFO(Messages(r));
  REQUIRE(r.opened);
  OpenedDeployment& d = *r.opened;
  CHECK(d.deployment.stores[0].options.at("directory") == "data");

  RunOptions run;
  run.as_of = *Date::Parse("2026-11-22");
  run.apply = true;
  auto outcome = PlanOrRun(d.deployment, d.policies, *d.stores, &*d.state, run);
  REQUIRE(outcome.ok());
  CHECK(outcome->status == "done");
  std::ifstream in(dir / "data/droits.jsonl");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Record 1 was due (2019-06-30 + 3 years); 2 is kept until 2027-01-31; 3 has no date.
  CHECK(text.find("\"id\":\"1\"") == std::string::npos);
  CHECK(text.find("\"id\":\"2\"") != std::string::npos);
  CHECK(text.find("\"id\":\"3\"") != std::string::npos);
  auto verified = d.state->VerifyAudit();
  REQUIRE(verified.ok());
  CHECK(verified->ok);
}

TEST_CASE("library: a custom store's settings are checked by its connector", "[library]") {
  TempDir dir;
  ConnectorRegistry registry;
  example::RegisterJsonLinesConnector(registry);
  OpenResult r = OpenDeployment(Options(JsonlDeployment(dir, "{type: jsonl, folder: data}"), &registry));
  REQUIRE_FALSE(r.opened);
  CHECK(r.status.message() == "store 'exports': a jsonl store needs 'directory'");
  // A built-in type this program did not register is refused at load.
  OpenResult sqlite = OpenDeployment(Options(JsonlDeployment(dir, "{type: sqlite, path: x.db}"), &registry));
  REQUIRE_FALSE(sqlite.opened);
  CHECK(Messages(sqlite).find("store type 'sqlite' is not available in this program") != std::string::npos);
}

TEST_CASE("library: opening and running change no process-wide state", "[library]") {
  TempDir dir;
  ::setenv("TZ", "America/New_York", 1);
  mode_t before = ::umask(027);
  ConnectorRegistry registry;
  example::RegisterJsonLinesConnector(registry);
  OpenResult r = OpenDeployment(Options(JsonlDeployment(dir, "{type: jsonl, directory: data}"), &registry));
  REQUIRE(r.opened);
  Date today = SystemClock().Today();
  Date paris = DateInParis(1700000000);  // 2023-11-14T22:13:20Z: already the 14th in Paris (23:13)
  auto fact = ParseDateFact("2023-11-14T23:30:00Z");  // 00:30 on the 15th in Paris
  mode_t after = ::umask(before);
  const char* tz = std::getenv("TZ");
  ::unsetenv("TZ");
  CHECK(after == 027);
  REQUIRE(tz != nullptr);
  CHECK(std::string(tz) == "America/New_York");
  CHECK(paris == *Date::Parse("2023-11-14"));
  REQUIRE(fact);
  CHECK(*fact == *Date::Parse("2023-11-15"));
  CHECK(today.year() >= 2024);
  // The state database is owner-only whatever the umask.
  struct stat st {};
  REQUIRE(::stat((dir / "state.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
}

TEST_CASE("library: Europe/Paris offsets agree with the tz database from 1970 to 2040", "[library][date]") {
  // One `date` process reads every instant (tzdata's Europe/Paris, through TZ in the
  // child only): every 6 hours, plus each side of every change.
  REQUIRE(std::filesystem::exists("/usr/share/zoneinfo/Europe/Paris"));  // tzdata: scripts/deps.txt
  TempDir dir;
  std::vector<int64_t> instants;
  for (int64_t t = 0; t < 2208988800; t += 6 * 3600) instants.push_back(t);
  for (int64_t m = 0; m < 2208988800 / 60; m += 60)  // around each change: the hour before and after
    if (ParisUtcOffsetMinutes(m) != ParisUtcOffsetMinutes(m + 60))
      for (int64_t s : {m * 60 + 3599, m * 60 + 3600}) instants.push_back(s);
  {
    std::ofstream f(dir / "instants");
    for (int64_t t : instants) f << "@" << t << "\n";
  }
  Process p = Shell("TZ=Europe/Paris date -f " + dir / "instants" + " +%z");
  REQUIRE(p.code == 0);
  std::istringstream lines(p.out);
  size_t i = 0, wrong = 0;
  for (std::string line; std::getline(lines, line) && i < instants.size(); ++i) {
    int expected = (line[0] == '-' ? -1 : 1) * (std::stoi(line.substr(1, 2)) * 60 + std::stoi(line.substr(3, 2)));
    int got = ParisUtcOffsetMinutes(instants[i] >= 0 ? instants[i] / 60 : -((-instants[i] + 59) / 60));
    if (got != expected && ++wrong <= 5) UNSCOPED_INFO("at @" << instants[i] << ": tzdata " << line << ", engine " << got);
  }
  CHECK(i == instants.size());
  CHECK(wrong == 0);
}

TEST_CASE("library: version macros and Version() agree", "[library]") {
  CHECK(std::string(Version()) == RETENTION_VERSION_STRING);
  CHECK(RETENTION_VERSION == RETENTION_VERSION_MAJOR * 10000 + RETENTION_VERSION_MINOR * 100 + RETENTION_VERSION_PATCH);
}

TEST_CASE("library: a policy set loads from texts with the same hash as from its folder", "[library]") {
  namespace fs = std::filesystem;
  const std::string dir = RETENTION_SOURCE_DIR "/policies";
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  std::vector<fs::path> paths;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".yaml" && e.path().filename() != "facts.yaml") paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  std::vector<PolicyText> files;
  for (const auto& p : paths) files.push_back({fs::relative(p, dir).generic_string(), read(p)});
  LoadResult texts = LoadPolicyTexts(read(fs::path(dir) / "facts.yaml"), files);
  REQUIRE_FALSE(HasErrors(texts.diagnostics));
  CHECK(texts.policies.hash == Shipped().hash);
  CHECK(texts.policies.AllRules().size() == Shipped().AllRules().size());
  REQUIRE(texts.policies.FindRule("F05.prestations"));

  // A located error names the file as given.
  files.push_back({"extra/broken.yaml", "fiche: 1\nrules: [\n"});
  LoadResult broken = LoadPolicyTexts(read(fs::path(dir) / "facts.yaml"), files, "memory");
  REQUIRE(HasErrors(broken.diagnostics));
  CHECK(broken.diagnostics.front().file == "memory/extra/broken.yaml");
}

TEST_CASE("library: hostile library input is refused, never thrown", "[library]") {
  const PolicySet& set = Shipped();
  // A date is never assumed (as in a configuration's `assume:`).
  auto assumed = EvaluateRule(set, "F02.droits", {{"contentieux", false}}, *Date::Parse("2026-01-01"),
                              {{"fin_droits", *Date::Parse("1900-01-01")}});
  REQUIRE_FALSE(assumed.ok());
  CHECK(assumed.status().message() == "assumption: 'fin_droits' is a date, and a date is never assumed");

  // Policy file names: relative, once, no newline (the hash joins names and texts).
  std::ifstream voc(RETENTION_SOURCE_DIR "/policies/facts.yaml");
  std::string vocabulary((std::istreambuf_iterator<char>(voc)), std::istreambuf_iterator<char>());
  for (const std::vector<PolicyText>& files :
       {std::vector<PolicyText>{{"a.yaml\n--- b.yaml", "fiche: 1"}}, std::vector<PolicyText>{{"a.yaml", ""}, {"a.yaml", ""}},
        std::vector<PolicyText>{{"../x.yaml", ""}}, std::vector<PolicyText>{{"", ""}},
        std::vector<PolicyText>{{"/etc/x.yaml", ""}}}) {
    LoadResult r = LoadPolicyTexts(vocabulary, files);
    REQUIRE(HasErrors(r.diagnostics));
    CHECK(r.diagnostics.back().message.find("a policy file's name is a relative path") == 0);
  }
  // Text that is not UTF-8 is refused where it is, before it can reach JSON or the audit.
  LoadResult bad = LoadPolicyTexts(vocabulary, {{"x.yaml", "fiche: 1\ntitle: \"caf\xe9\"\n"}});
  REQUIRE(HasErrors(bad.diagnostics));
  CHECK(bad.diagnostics.front().ToString() == "x.yaml:2:12: error: invalid UTF-8 (byte 0xe9): configuration and policy "
                                              "files are UTF-8");

  // The scan batcher may be given a temporary lambda (it keeps a copy; ASan pass).
  int seen = 0;
  ScanBatcher batcher(2, [&seen](std::vector<RawRecord>& batch) {
    seen += static_cast<int>(batch.size());
    return true;
  });
  for (int i = 0; i < 5; ++i) CHECK(batcher.Add(RawRecord{std::to_string(i), "", {}, false}));
  batcher.Flush();
  CHECK(seen == 5);
}
