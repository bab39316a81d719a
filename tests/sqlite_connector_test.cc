// Connectors against real stores: SQLite files on disk and a real directory of files.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "support/shipped.h"
#include <fmt/format.h>

#include "retention/connectors.h"
#include "retention/plan.h"
#include "retention/secrets.h"
#include "support/sqlite_db.h"

using namespace retention;
using namespace retention::testing;
namespace fs = std::filesystem;

namespace {


struct Env {
  TempDir dir;
  DeploymentLoad load;
  std::optional<Stores> stores;

  void Load(const std::string& yaml) {
    load = LoadDeploymentText(yaml, "deploy.yaml", dir.path().string(), Shipped());
    for (const auto& d : load.diagnostics) UNSCOPED_INFO(d.ToString());
    REQUIRE_FALSE(HasErrors(load.diagnostics));
    ConnectorRegistry registry;
    RegisterBuiltinConnectors(registry);
    auto s = Stores::Open(load.deployment, registry);
    REQUIRE(s.ok());
    stores.emplace(std::move(*s));
    auto schema = ValidateSchemas(load.deployment, *stores);
    for (const auto& d : schema) UNSCOPED_INFO(d.ToString());
    REQUIRE(schema.empty());
  }

  Plan Run(const char* as_of, bool apply = true, ExecuteOptions o = {}) {
    o.as_of = *Date::Parse(as_of);
    o.apply = apply;
    o.run_id = std::string("run-") + as_of;
    auto plan = Execute(load.deployment, Shipped(), *stores, o);
    INFO(plan.status().message());
    REQUIRE(plan.ok());
    return *plan;
  }
};

const BindingPlan& Of(const Plan& p, const std::string& binding) {
  for (const auto& b : p.bindings)
    if (b.binding == binding) return b;
  FAIL("no binding " << binding);
  return p.bindings.front();
}

// One binding planned fast twice: reading the selected rows, and counted in the store.
struct FastPlans {
  BindingPlan rows, counted;
};
FastPlans ReadAndCounted(Env& env, const char* as_of, const std::string& binding) {
  ExecuteOptions read;
  read.count_in_store = false;
  return {Of(env.Run(as_of, false, read), binding), Of(env.Run(as_of, false), binding)};
}

void SetMtime(const fs::path& p, const char* date) {
  // Noon in Paris on `date`.
  std::tm tm{};
  strptime(date, "%Y-%m-%d", &tm);
  tm.tm_hour = 12;
  setenv("TZ", "Europe/Paris", 1);
  tzset();
  std::time_t t = mktime(&tm);
  unsetenv("TZ");
  tzset();
  auto sys = std::chrono::system_clock::from_time_t(t);
  fs::last_write_time(p, std::chrono::file_clock::from_sys(sys));
}

}  // namespace

TEST_CASE("F05.prestations: archived into a separate store, later deleted there", "[sqlite][archive]") {
  Env env;
  {
    SqliteDb db(env.dir / "main.db");
    db.Exec("CREATE TABLE prestations (id INTEGER PRIMARY KEY, nir TEXT, date_versement DATE, montant REAL)");
    db.Exec("INSERT INTO prestations VALUES (1, '180017512345678', '2020-02-29', 10.5), "
            "(2, '280027512345612', '2023-06-30', 20), (3, '180017512345678', '2024-01-15', 30)");
  }
  env.Load(fmt::format(R"(state: state.db
stores:
  main: {{type: sqlite, path: main.db}}
  archive: {{type: sqlite, path: archive.db}}
bindings:
  - rule: F05.prestations
    store: main
    table: prestations
    key: id
    subject: nir
    facts: {{date_versement: date_versement}}
    archive: {{store: archive, table: prestations_archive}}
)"));
  SECTION("plan only changes nothing") {
    Plan p = env.Run("2026-11-22", false);
    CHECK(Of(p, "F05.prestations").due.at(Phase::kArchive).count == 2);
    CHECK(SqliteDb(env.dir / "main.db").One("SELECT COUNT(*) FROM prestations") == "3");
  }
  SECTION("archive, rerun, then delete in the archive") {
    Plan p = env.Run("2026-11-22");
    CHECK(Of(p, "F05.prestations").applied.at(Phase::kArchive) == 2);
    SqliteDb main(env.dir / "main.db"), archive(env.dir / "archive.db");
    CHECK(main.Column("SELECT id FROM prestations") == std::vector<std::string>{"3"});
    CHECK(archive.Column("SELECT id || ' ' || archived_at || ' ' || rule_id || ' ' || run_id || ' ' || montant FROM "
                         "prestations_archive ORDER BY id") ==
          std::vector<std::string>{"1 2026-11-22 F05.prestations run-2026-11-22 10.5",
                                   "2 2026-11-22 F05.prestations run-2026-11-22 20.0"});
    Plan again = env.Run("2026-11-22");
    CHECK(Of(again, "F05.prestations").applied.empty());
    CHECK(archive.One("SELECT COUNT(*) FROM prestations_archive") == "2");
    // Archive period of record 1: 2023-02-28 + 10y = 2033-02-28 is its last day.
    Plan before = env.Run("2033-02-28");
    CHECK(archive.One("SELECT COUNT(*) FROM prestations_archive WHERE id = 1") == "1");
    CHECK(Of(before, "F05.prestations").applied.at(Phase::kArchive) == 1);  // record 3 reached its archive
    Plan after = env.Run("2033-03-01");
    CHECK(Of(after, "F05.prestations@archive").applied.at(Phase::kDelete) == 1);
    CHECK(archive.Column("SELECT id FROM prestations_archive ORDER BY id") == std::vector<std::string>{"2", "3"});
  }
}

TEST_CASE("archive into a table of the same SQLite file, a record changed before apply is skipped",
          "[sqlite][archive]") {
  Env env;
  {
    SqliteDb db(env.dir / "main.db");
    db.Exec("CREATE TABLE prestations (id INTEGER PRIMARY KEY, nir TEXT, date_versement DATE, montant REAL)");
    db.Exec("INSERT INTO prestations VALUES (1, 'x', '2020-02-29', 10.5), (2, 'y', '2023-06-30', 20), "
            "(3, 'z', '2024-01-15', 30)");
  }
  env.Load(R"(state: state.db
stores:
  main: {type: sqlite, path: main.db}
bindings:
  - rule: F05.prestations
    store: main
    table: prestations
    key: id
    subject: nir
    facts: {date_versement: date_versement}
    archive: {store: main, table: prestations_archive}
)");
  // Records 1 and 2 are due for archiving on 2026-11-22, record 3 is not; record 2 gets a
  // later payment date just before the batch is applied, so it is no longer due then.
  ExecuteOptions o;
  o.before_batch = [&] {
    SqliteDb(env.dir / "main.db").Exec("UPDATE prestations SET date_versement = '2026-11-01' WHERE id = 2");
    return Status::Ok();
  };
  Plan p = env.Run("2026-11-22", true, o);
  CHECK(Of(p, "F05.prestations").due.at(Phase::kArchive).count == 2);
  CHECK(Of(p, "F05.prestations").applied.at(Phase::kArchive) == 1);
  CHECK(Of(p, "F05.prestations").skipped_at_apply == 1);
  SqliteDb db(env.dir / "main.db");
  CHECK(db.Column("SELECT id FROM prestations ORDER BY id") == std::vector<std::string>{"2", "3"});
  CHECK(db.Column("SELECT id || ' ' || montant FROM prestations_archive ORDER BY id") ==
        std::vector<std::string>{"1 10.5"});
}

TEST_CASE("an SQL-expression fact over related rows: the last surviving dependant", "[sqlite]") {
  Env env;
  {
    SqliteDb db(env.dir / "main.db");
    db.Exec("CREATE TABLE victimes (id INTEGER PRIMARY KEY, nir TEXT, deces DATE, ayants_droit INTEGER, "
            "contentieux INTEGER, decision DATE)");
    db.Exec("CREATE TABLE ayants_droit (id INTEGER PRIMARY KEY, victime_id INTEGER, fin_droits DATE)");
    // Victim 1: dependants' rights end 2015-03-31 and 2021-08-31 → kept through 2026-08-31.
    // Victim 2: last dependant's rights end 2022-01-31 → kept through 2027-01-31.
    db.Exec("INSERT INTO victimes VALUES (1, 'a', '2001-01-01', 1, 0, NULL), (2, 'b', '2001-01-01', 1, 0, NULL)");
    db.Exec("INSERT INTO ayants_droit VALUES (1, 1, '2015-03-31'), (2, 1, '2021-08-31'), (3, 2, '2022-01-31')");
  }
  env.Load(R"(state: state.db
stores:
  main: {type: sqlite, path: main.db}
bindings:
  - rule: F04.victime
    store: main
    table: victimes
    key: id
    subject: nir
    facts:
      deces: deces
      ayants_droit: ayants_droit
      contentieux: contentieux
      decision_definitive: decision
      extinction_droits_ayants_droit: {sql: "SELECT MAX(d.fin_droits) FROM ayants_droit d WHERE d.victime_id = t.id"}
)");
  Plan last_day = env.Run("2026-08-31", false);
  CHECK(Of(last_day, "F04.victime").DueTotal() == 0);
  Plan p = env.Run("2026-09-01");
  CHECK(Of(p, "F04.victime").applied.at(Phase::kDelete) == 1);
  CHECK(SqliteDb(env.dir / "main.db").Column("SELECT id FROM victimes") == std::vector<std::string>{"2"});
}

TEST_CASE("pseudonymisation: keyed HMAC, same token across tables, once", "[sqlite][pseudonymise]") {
  Env env;
  for (const char* t : {"suivi_a", "suivi_b"}) {
    SqliteDb db(env.dir / "main.db");
    db.Exec(fmt::format("CREATE TABLE {} (id INTEGER PRIMARY KEY, nir TEXT, nom TEXT, cloture DATE, pseudo_at DATE)", t));
    db.Exec(fmt::format("INSERT INTO {} VALUES (1, '180017512345678', 'Martin', '2022-01-31', NULL), "
                        "(2, '280027512345612', 'Durand', '2026-01-31', NULL)", t));
  }
  std::ofstream(env.dir / "k1.key") << "first-secret-key\n";
  std::ofstream(env.dir / "k2.key") << "second-secret-key\n";
  chmod((env.dir / "k1.key").c_str(), 0600);
  chmod((env.dir / "k2.key").c_str(), 0600);
  auto binding = [](const char* table, const char* key) {
    return fmt::format(R"(  - name: {0}
    rule: F55.accompagnement
    store: main
    table: {0}
    key: id
    subject: nir
    facts: {{cloture: cloture}}
    pseudonymise: {{columns: [nir], nullify: [nom], marker: pseudo_at, key_file: {1}}}
)", table, key);
  };
  env.Load("state: state.db\nstores:\n  main: {type: sqlite, path: main.db}\nbindings:\n" + binding("suivi_a", "k1.key") +
           binding("suivi_b", "k2.key"));
  ExecuteOptions o;
  o.pseudonymise_keys["suivi_a"] = *LoadKey(env.dir / "k1.key", "");
  o.pseudonymise_keys["suivi_b"] = *LoadKey(env.dir / "k1.key", "");
  // 2022-01-31 + 18m = 2023-07-31: de-identified from 2023-08-01.
  Plan p = env.Run("2023-08-01", true, o);
  CHECK(Of(p, "suivi_a").applied.at(Phase::kPseudonymise) == 1);
  SqliteDb db(env.dir / "main.db");
  std::string a = db.One("SELECT nir FROM suivi_a WHERE id = 1"), b = db.One("SELECT nir FROM suivi_b WHERE id = 1");
  CHECK(a.size() == 64);
  CHECK(a.find("180017512345678") == std::string::npos);
  CHECK(a == b);  // one key: joins still work
  CHECK(db.One("SELECT nom FROM suivi_a WHERE id = 1") == "NULL");
  CHECK(db.One("SELECT pseudo_at FROM suivi_a WHERE id = 1") == "2023-08-01");
  CHECK(db.One("SELECT nir FROM suivi_a WHERE id = 2") == "280027512345612");  // not due
  Plan again = env.Run("2023-09-01", true, o);
  CHECK(Of(again, "suivi_a").applied.empty());  // done once
  CHECK(db.One("SELECT nir FROM suivi_a WHERE id = 1") == a);
  // Another key gives another token.
  db.Exec("UPDATE suivi_b SET nir = '180017512345678', pseudo_at = NULL WHERE id = 1");
  o.pseudonymise_keys["suivi_b"] = *LoadKey(env.dir / "k2.key", "");
  env.Run("2023-09-01", true, o);
  CHECK(db.One("SELECT nir FROM suivi_b WHERE id = 1") != a);
  // 2023-07-31 + 3y = 2026-07-31: deleted from 2026-08-01.
  Plan later = env.Run("2026-08-01", true, o);
  CHECK(Of(later, "suivi_a").applied.at(Phase::kDelete) == 1);
}

TEST_CASE("keys must be owner-only", "[secrets]") {
  TempDir dir;
  std::ofstream(dir / "k.key") << "secret";
  chmod((dir / "k.key").c_str(), 0644);
  auto k = LoadKey(dir / "k.key", "");
  REQUIRE_FALSE(k.ok());
  CHECK(k.status().message().find("owner-only") != std::string::npos);
  CHECK(k.status().message().find("secret") == std::string::npos);
  chmod((dir / "k.key").c_str(), 0600);
  CHECK(*LoadKey(dir / "k.key", "") == "secret");
}

TEST_CASE("files: CCTV footage older than one month deleted, younger kept, archive keeps relative paths", "[files]") {
  Env env;
  fs::create_directories(env.dir.path() / "cctv/cam1");
  fs::create_directories(env.dir.path() / "scans/2020/02");
  for (const char* f : {"cctv/cam1/old.mp4", "cctv/cam1/young.mp4", "cctv/cam1/notes.txt", "scans/2020/02/p_20200229.pdf",
                        "scans/2020/02/p_20240115.pdf"})
    std::ofstream(env.dir / f) << "data";
  SetMtime(env.dir.path() / "cctv/cam1/old.mp4", "2026-10-21");    // 1 month later: 2026-11-21, last day kept
  SetMtime(env.dir.path() / "cctv/cam1/young.mp4", "2026-10-22");  // kept through 2026-11-22
  SetMtime(env.dir.path() / "cctv/cam1/notes.txt", "2020-01-01");  // not matched by the glob
  env.Load(R"(state: state.db
stores:
  cameras: {type: files, directory: cctv}
  scans: {type: files, directory: scans}
  scans_archive: {type: files, directory: archive/scans}
bindings:
  - rule: F86.videosurveillance
    store: cameras
    glob: "*.mp4"
    facts: {collecte: {mtime: true}}
  - rule: F05.prestations
    store: scans
    facts: {date_versement: {filename: "_(\\d{8})\\.pdf$"}}
    archive: {store: scans_archive}
)");
  Plan p = env.Run("2026-11-22");
  CHECK(Of(p, "F86.videosurveillance").total_rows == 2);
  CHECK(Of(p, "F86.videosurveillance").applied.at(Phase::kDelete) == 1);
  CHECK_FALSE(fs::exists(env.dir.path() / "cctv/cam1/old.mp4"));
  CHECK(fs::exists(env.dir.path() / "cctv/cam1/young.mp4"));
  CHECK(fs::exists(env.dir.path() / "cctv/cam1/notes.txt"));
  CHECK(Of(p, "F05.prestations").applied.at(Phase::kArchive) == 1);
  CHECK(fs::exists(env.dir.path() / "archive/scans/2020/02/p_20200229.pdf"));
  CHECK_FALSE(fs::exists(env.dir.path() / "scans/2020/02/p_20200229.pdf"));
  CHECK(fs::exists(env.dir.path() / "scans/2020/02/p_20240115.pdf"));
  Plan later = env.Run("2033-03-01");
  CHECK(Of(later, "F05.prestations@archive").applied.at(Phase::kDelete) == 1);
  CHECK_FALSE(fs::exists(env.dir.path() / "archive/scans/2020/02/p_20200229.pdf"));
}

TEST_CASE("configuration errors are located and stop before anything runs", "[config]") {
  auto errors = [](const std::string& yaml) {
    DeploymentLoad l = LoadDeploymentText(yaml, "bad.yaml", "/tmp", Shipped());
    std::string out;
    for (const auto& d : l.diagnostics) out += d.ToString() + "\n";
    return out;
  };
  std::string head = "state: s.db\nstores:\n  main: {type: sqlite, path: m.db}\nbindings:\n";
  SECTION("a hostile identifier is refused") {
    std::string e = errors(head + "  - {rule: F01.droits, store: main, table: \"x; DROP TABLE y\", key: id, "
                                  "facts: {fin_droits: fin_droits}}\n");
    CHECK(e.find("bad.yaml:5:") != std::string::npos);
    CHECK(e.find("table 'x; DROP TABLE y' is not a valid SQL identifier") != std::string::npos);
    std::string c = errors(head + "  - {rule: F01.droits, store: main, table: t, key: id, "
                                  "facts: {fin_droits: \"a\\\" OR 1=1 --\"}}\n");
    CHECK(c.find("is not a valid SQL identifier") != std::string::npos);
  }
  SECTION("unknown rule, unmapped fact, unknown store, password") {
    CHECK(errors(head + "  - {rule: F99.nope, store: main, table: t, key: id}\n").find("unknown rule 'F99.nope'") !=
          std::string::npos);
    CHECK(errors(head + "  - {rule: F01.droits, store: main, table: t, key: id}\n")
              .find("rule F01.droits needs fact 'fin_droits', which binding 'F01.droits' does not map") != std::string::npos);
    CHECK(errors(head + "  - {rule: F01.droits, store: other, table: t, key: id, facts: {fin_droits: f}}\n")
              .find("unknown store 'other'") != std::string::npos);
    CHECK(errors("state: s.db\nstores:\n  pg: {type: postgres, dsn_env: X, password: hunter2}\nbindings: []\n")
              .find("never put a password in the configuration") != std::string::npos);
    CHECK(errors(head + "  - {rule: F05.prestations, store: main, table: t, key: id, facts: {date_versement: d}}\n")
              .find("the binding needs 'archive") != std::string::npos);
  }
  SECTION("a column missing from the live schema") {
    TempDir dir;
    SqliteDb(dir / "m.db").Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, fin DATE)");
    DeploymentLoad l = LoadDeploymentText(head + "  - {rule: F01.droits, store: main, table: t, key: id, "
                                                 "subject: nir, facts: {fin_droits: fin_droit}}\n",
                                          "bad.yaml", dir.path().string(), Shipped());
    REQUIRE_FALSE(HasErrors(l.diagnostics));
    ConnectorRegistry registry;
    RegisterBuiltinConnectors(registry);
    auto stores = Stores::Open(l.deployment, registry);
    REQUIRE(stores.ok());
    Diagnostics d = ValidateSchemas(l.deployment, *stores);
    REQUIRE(d.size() == 2);
    CHECK(d[0].ToString().find("bad.yaml:5:5: error: binding 'F01.droits': subject column 'nir' does not exist") == 0);
    CHECK(d[1].ToString().find("fact 'fin_droits' column 'fin_droit' does not exist") != std::string::npos);
  }
}

TEST_CASE("plan --fast counted in the store never merges values a NOCASE column compares equal", "[sqlite]") {
  Env env;
  {
    SqliteDb db(env.dir / "main.db");
    db.Exec("CREATE TABLE signalements (id INTEGER PRIMARY KEY, nir TEXT, issue TEXT COLLATE NOCASE, "
            "decision_sans_suite DATE, procedure_sanction INTEGER, decision_definitive DATE, contentieux INTEGER)");
    // Due (one year after a dismissal by the fund), then the same in capitals: not a listed value.
    for (int i = 1; i <= 20; ++i)
      db.Exec(fmt::format("INSERT INTO signalements VALUES ({}, 'n{}', '{}', '2020-01-01', 0, NULL, 0)", i, i,
                          i % 2 ? "sans_suite_organisme" : "SANS_SUITE_ORGANISME"));
  }
  env.Load(R"(state: state.db
stores:
  main: {type: sqlite, path: main.db}
bindings:
  - rule: F22.signalements
    store: main
    table: signalements
    key: id
    subject: nir
    facts: {issue_signalement: issue, decision_sans_suite: decision_sans_suite, procedure_sanction: procedure_sanction,
            decision_definitive: decision_definitive, contentieux: contentieux}
    archive: {store: main, table: signalements_archive}
)");
  const auto [rows, counted] = ReadAndCounted(env, "2026-11-22", "F22.signalements");
  CHECK_FALSE(rows.counted_in_store);
  CHECK(counted.counted_in_store);
  CHECK(rows.DueTotal() == 10);
  CHECK(rows.invalid_facts == 10);
  CHECK(counted.DueTotal() == 10);
  CHECK(counted.invalid_facts == 10);
}

TEST_CASE("plan --fast counted in the store never merges 0 and 0.0 in a column without a type", "[sqlite]") {
  Env env;
  {
    SqliteDb db(env.dir / "main.db");
    db.Exec("CREATE TABLE droits (id INTEGER PRIMARY KEY, nir TEXT, fin_droits TEXT, contentieux, decision TEXT)");
    // 0 is a valid flag; 0.0 (a REAL, read as "0.0") is not: SQLite's GROUP BY calls them equal.
    for (int i = 1; i <= 20; ++i)
      db.Exec(fmt::format("INSERT INTO droits VALUES ({}, 'n{}', '2015-03-31', {}, NULL)", i, i, i % 2 ? "0" : "0.0"));
  }
  env.Load(R"(state: state.db
stores:
  main: {type: sqlite, path: main.db}
bindings:
  - rule: F02.droits
    store: main
    table: droits
    key: id
    subject: nir
    facts: {fin_droits: fin_droits, contentieux: contentieux, decision_definitive: decision}
)");
  const auto [rows, counted] = ReadAndCounted(env, "2026-11-22", "F02.droits");
  CHECK(counted.counted_in_store);
  CHECK(rows.DueTotal() == 10);
  CHECK(rows.invalid_facts == 10);
  CHECK(counted.DueTotal() == rows.DueTotal());
  CHECK(counted.invalid_facts == rows.invalid_facts);
}
