// Keys on real SQLite files: an archive never loses a record under a reused key, a key
// must be unique, an untyped key column is matched, and the archive store's later delete
// acts on the evaluated row only.
#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "retention/connectors.h"
#include "retention/plan.h"
#include "support/droits_config.h"
#include "support/process.h"
#include "support/shipped.h"
#include "support/sqlite_db.h"

using namespace retention;
using namespace retention::testing;

namespace {

struct Deploy {
  TempDir dir;
  DeploymentLoad load;
  std::optional<Stores> stores;

  // Loads the configuration and opens its stores; returns ValidateSchemas' diagnostics.
  Diagnostics Open(const std::string& yaml) {
    load = LoadDeploymentText(yaml, "deploy.yaml", dir.path().string(), Shipped());
    for (const auto& d : load.diagnostics) UNSCOPED_INFO(d.ToString());
    REQUIRE_FALSE(HasErrors(load.diagnostics));
    ConnectorRegistry registry;
    RegisterBuiltinConnectors(registry);
    auto s = Stores::Open(load.deployment, registry);
    REQUIRE(s.ok());
    stores.emplace(std::move(*s));
    return ValidateSchemas(load.deployment, *stores);
  }

  Plan Run(const char* as_of) {
    ExecuteOptions o;
    o.as_of = *Date::Parse(as_of);
    o.apply = true;
    o.run_id = std::string("run-") + as_of;
    auto plan = Execute(load.deployment, Shipped(), *stores, o);
    INFO(plan.status().message());
    REQUIRE(plan.ok());
    return *plan;
  }

  SqliteDb Db(const char* name = "main.db") const { return SqliteDb(dir / name); }
};

const BindingPlan& Of(const Plan& p, const std::string& binding) {
  for (const auto& b : p.bindings)
    if (b.binding == binding) return b;
  FAIL("no binding " << binding);
  return p.bindings.front();
}

int64_t Applied(const BindingPlan& b, Phase action) {
  auto it = b.applied.find(action);
  return it == b.applied.end() ? 0 : it->second;
}

// F05.prestations: archived from date_versement + 3 years (a period ends at the end of
// its last day), deleted 10 years later.
std::string PrestationsConfig(const char* archive_store) {
  return fmt::format(R"(state: state.db
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
    archive: {{store: {}, table: prestations_archive}}
)",
                     archive_store);
}

// F01.droits over main.db's table `droits`, keyed by `id` (the binding starts on line 5).
const std::string kDroitsDeployment = std::string(kDroitsOnSqlite) + "    subject: nir\n";

}  // namespace

TEST_CASE("sqlite archive: a reused rowid is never lost - the new record is refused and kept", "[sqlite][archive][keys]") {
  auto store = GENERATE(as<std::string>{}, "archive", "main");
  INFO("archive store: " << store);
  Deploy d;
  const char* archive_db = store == "main" ? "main.db" : "archive.db";
  d.Db().Exec("CREATE TABLE prestations (id INTEGER PRIMARY KEY, nir TEXT, date_versement DATE, montant REAL)");
  d.Db().Exec("INSERT INTO prestations VALUES (1, 'a', '2020-01-10', 10.5)");
  REQUIRE(d.Open(PrestationsConfig(store.c_str())).empty());
  Plan first = d.Run("2026-11-22");
  REQUIRE(Applied(Of(first, "F05.prestations"), Phase::kArchive) == 1);
  // SQLite gives the deleted row's id to the next row (INTEGER PRIMARY KEY without AUTOINCREMENT).
  d.Db().Exec("INSERT INTO prestations (nir, date_versement, montant) VALUES ('b', '2021-02-03', 99)");
  REQUIRE(d.Db().One("SELECT id FROM prestations") == "1");
  Plan second = d.Run("2026-11-22");
  const BindingPlan& b = Of(second, "F05.prestations");
  CHECK(Applied(b, Phase::kArchive) == 0);
  CHECK(b.refused_at_apply == 1);
  CHECK(b.Incomplete());
  REQUIRE(b.errors.size() == 1);
  CHECK_THAT(b.errors[0], Catch::Contains("archive already holds a different record"));
  CHECK(d.Db().Column("SELECT nir || ' ' || montant FROM prestations") == std::vector<std::string>{"b 99.0"});
  CHECK(d.Db(archive_db).Column("SELECT nir || ' ' || montant FROM prestations_archive") ==
        std::vector<std::string>{"a 10.5"});
}

TEST_CASE("sqlite archive: a row already archived identically is archived (a rerun after a crash)",
          "[sqlite][archive][keys]") {
  Deploy d;
  d.Db().Exec("CREATE TABLE prestations (id INTEGER PRIMARY KEY, nir TEXT, date_versement DATE, montant REAL)");
  d.Db().Exec("INSERT INTO prestations VALUES (1, 'a', '2020-01-10', 10.5), (2, 'b', '2020-01-11', 7)");
  // The copy of record 1 was committed in the archive, then the process died before the delete.
  d.Db("archive.db").Exec("CREATE TABLE prestations_archive (id INTEGER, nir TEXT, date_versement DATE, montant REAL, "
                          "archived_at DATE NOT NULL, rule_id TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (id))");
  d.Db("archive.db").Exec("INSERT INTO prestations_archive VALUES (1, 'a', '2020-01-10', 10.5, '2026-11-21', "
                          "'F05.prestations', 'run-crashed')");
  REQUIRE(d.Open(PrestationsConfig("archive")).empty());
  Plan p = d.Run("2026-11-22");
  const BindingPlan& b = Of(p, "F05.prestations");
  CHECK(Applied(b, Phase::kArchive) == 2);
  CHECK(b.refused_at_apply == 0);
  CHECK_FALSE(b.Incomplete());
  CHECK(d.Db().One("SELECT COUNT(*) FROM prestations") == "0");
  CHECK(d.Db("archive.db").Column("SELECT id || ' ' || run_id FROM prestations_archive ORDER BY id") ==
        std::vector<std::string>{"1 run-crashed", "2 run-2026-11-22"});
}

TEST_CASE("sqlite keys: a key column that is not unique is refused at the binding", "[sqlite][keys]") {
  using Row = std::tuple<const char*, const char*, bool>;
  auto [what, schema, accepted] = GENERATE(table<const char*, const char*, bool>({
      Row{"integer primary key", "id INTEGER PRIMARY KEY, nir TEXT, fin_droits DATE", true},
      Row{"text primary key", "id TEXT PRIMARY KEY, nir TEXT, fin_droits DATE", true},
      Row{"untyped primary key", "id PRIMARY KEY, nir TEXT, fin_droits DATE", true},
      Row{"unique not null", "id TEXT NOT NULL UNIQUE, nir TEXT, fin_droits DATE", true},
      Row{"no index", "id TEXT, nir TEXT, fin_droits DATE", false},
      Row{"unique but nullable", "id TEXT UNIQUE, nir TEXT, fin_droits DATE", false},
      Row{"part of a composite primary key", "id TEXT, nir TEXT, fin_droits DATE, PRIMARY KEY (id, nir)", false},
      Row{"part of a composite unique index", "id TEXT NOT NULL, nir TEXT, fin_droits DATE, UNIQUE (id, nir)", false},
  }));
  INFO(what);
  Deploy d;
  d.Db().Exec(fmt::format("CREATE TABLE droits ({})", schema));
  Diagnostics found = d.Open(kDroitsDeployment);
  for (const auto& x : found) UNSCOPED_INFO(x.ToString());
  if (accepted) {
    CHECK(found.empty());
  } else {
    REQUIRE(found.size() == 1);
    CHECK(found[0].file == "deploy.yaml");
    CHECK(found[0].line == 5);  // the binding's first line
    CHECK_THAT(found[0].message, Catch::Contains("key column 'id' of droits is not unique"));
  }
}

TEST_CASE("sqlite keys: a partial unique index does not make a key unique", "[sqlite][keys]") {
  Deploy d;
  d.Db().Exec("CREATE TABLE droits (id TEXT NOT NULL, nir TEXT, fin_droits DATE)");
  d.Db().Exec("CREATE UNIQUE INDEX droits_id ON droits (id) WHERE fin_droits IS NOT NULL");
  Diagnostics found = d.Open(kDroitsDeployment);
  REQUIRE(found.size() == 1);
  CHECK_THAT(found[0].ToString(), Catch::StartsWith("deploy.yaml:5:") && Catch::Contains("is not unique"));
}

TEST_CASE("sqlite keys: a key column without a declared type is matched and its due rows deleted", "[sqlite][keys]") {
  Deploy d;
  d.Db().Exec("CREATE TABLE droits (id PRIMARY KEY, nir, fin_droits)");
  // 1 and 2 are stored as integers (no affinity); 'x7' as text; 3 is not due.
  d.Db().Exec("INSERT INTO droits VALUES (1, 'a', '2020-01-31'), (2, 'b', '2020-02-29'), ('x7', 'c', '2020-03-31'), "
              "(3, 'd', '2026-01-31')");
  REQUIRE(d.Open(kDroitsDeployment).empty());
  Plan p = d.Run("2026-11-22");
  const BindingPlan& b = Of(p, "F01.droits");
  CHECK(Applied(b, Phase::kDelete) == 3);
  CHECK(b.skipped_at_apply == 0);
  CHECK_FALSE(b.Incomplete());
  CHECK(d.Db().Column("SELECT id FROM droits") == std::vector<std::string>{"3"});
}

TEST_CASE("sqlite archive store: the later delete acts only on the row it evaluated", "[sqlite][archive][keys]") {
  Deploy d;
  d.Db().Exec("CREATE TABLE prestations (id INTEGER PRIMARY KEY, nir TEXT, date_versement DATE, montant REAL)");
  // An archive table made by hand without a key: two records under id 5, one past its
  // archive period (2010 + 3y + 10y), one archived recently.
  d.Db("archive.db").Exec("CREATE TABLE prestations_archive (id INTEGER, nir TEXT, date_versement DATE, montant REAL, "
                          "archived_at DATE, rule_id TEXT, run_id TEXT)");
  d.Db("archive.db").Exec("INSERT INTO prestations_archive VALUES (5, 'old', '2010-01-10', 1, '2013-01-11', "
                          "'F05.prestations', 'r1'), (5, 'new', '2022-05-05', 2, '2025-05-06', 'F05.prestations', 'r2')");
  Diagnostics found = d.Open(PrestationsConfig("archive"));
  SECTION("the binding over the archive table is refused") {
    REQUIRE(found.size() == 1);
    CHECK_THAT(found[0].message, Catch::Contains("F05.prestations@archive") && Catch::Contains("is not unique"));
  }
  SECTION("forced through, the apply refuses the ambiguous key and keeps both rows") {
    Plan p = d.Run("2026-11-22");
    const BindingPlan& b = Of(p, "F05.prestations@archive");
    CHECK(Applied(b, Phase::kDelete) == 0);
    CHECK(b.refused_at_apply == 1);
    CHECK(b.Incomplete());
    CHECK(d.Db("archive.db").Column("SELECT nir FROM prestations_archive ORDER BY nir") ==
          std::vector<std::string>{"new", "old"});
  }
}

TEST_CASE("sqlite run: records due but none applied make the run incomplete with a non-zero exit",
          "[sqlite][keys][cli]") {
  Deploy d;
  d.Db().Exec("CREATE TABLE prestations (id INTEGER PRIMARY KEY, nir TEXT, date_versement DATE, montant REAL)");
  d.Db().Exec("INSERT INTO prestations VALUES (1, 'b', '2021-02-03', 99)");
  d.Db("archive.db").Exec("CREATE TABLE prestations_archive (id INTEGER PRIMARY KEY, nir TEXT, date_versement DATE, "
                          "montant REAL, archived_at DATE NOT NULL, rule_id TEXT NOT NULL, run_id TEXT NOT NULL)");
  d.Db("archive.db").Exec("INSERT INTO prestations_archive VALUES (1, 'a', '2020-01-10', 10.5, '2024-01-11', "
                          "'F05.prestations', 'r1')");
  std::ofstream(d.dir / "audit.key") << "0123456789abcdef0123456789abcdef\n";
  chmod((d.dir / "audit.key").c_str(), 0600);
  std::ofstream(d.dir / "deploy.yaml") << "audit_key: {file: audit.key}\n"
                                       << "policies: " << RETENTION_SOURCE_DIR << "/policies\n"
                                       << PrestationsConfig("archive");
  Process run = Retention("run --config " + (d.dir / "deploy.yaml") + " --as-of 2026-11-22 --allow-mass");
  INFO(run.out);
  CHECK(run.code == 1);
  CHECK_THAT(run.out, Catch::Contains("incomplete") && Catch::Contains("archive already holds a different record"));
  CHECK(d.Db().One("SELECT COUNT(*) FROM prestations") == "1");
}
