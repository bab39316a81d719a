// The PostgreSQL connector against a real server, with the shipped policies: each test
// creates its own schema (random name), fills it with rows, runs plans and runs through
// Execute, checks the rows left, and drops the schema.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "pg_session.h"
#include "support/shipped.h"
#include "postgres/postgres_connector.h"
#include "retention/connector.h"
#include "retention/connectors.h"
#include "retention/deployment.h"
#include "retention/plan.h"
#include "retention/policy.h"
#include "retention/policy_change.h"
#include "retention/run.h"
#include "retention/state.h"

namespace {

using namespace retention;
using retention::testing::PgSession;
using retention::testing::RequireOk;
using retention::testing::ValueOf;
using Cell = PgSession::Cell;
using Strings = std::vector<std::string>;

const PolicySet& Policies() { return retention::testing::Shipped(); }

std::string RandomSuffix() {
  std::random_device rd;
  std::mt19937_64 gen(rd());
  return fmt::format("{:016x}", gen());
}

// CREATE TABLE and INSERT INTO ... VALUES for a table of the session's schema.
void CreateTable(PgSession& db, const std::string& table, const std::string& columns) {
  db.Exec(fmt::format("CREATE TABLE {} ({})", db.T(table), columns));
}

void Insert(PgSession& db, const std::string& table, const std::string& values) {
  db.Exec(fmt::format("INSERT INTO {} VALUES {}", db.T(table), values));
}

// The ids left in a table of the session's schema, in order.
Strings Ids(PgSession& db, const std::string& table) {
  return db.Column(fmt::format("SELECT id FROM {} ORDER BY id", db.T(table)));
}

const char* kStores =
    "state: state.db\n"
    "stores:\n"
    "  main: {type: postgres, dsn_env: RETENTION_TEST_PG}\n"
    "bindings:\n";

// One binding of the deployment text, in store main keyed by id; empty fields are left out.
struct BindingText {
  std::string rule;
  std::string name;
  std::string table;
  std::string batch_size;
  std::string subject;
  std::string facts;  // what follows "facts:", a flow mapping or an indented block (starting with "\n")
  std::string archive;
  std::string pseudonymise;
};

const char* kFinDroits = "{fin_droits: fin_droits}";

std::string Yaml(const BindingText& b) {
  auto field = [](const char* name, const std::string& value) {
    return value.empty() ? "" : fmt::format("    {}: {}\n", name, value);
  };
  return "  - rule: " + b.rule + "\n" + field("name", b.name) + field("store", "main") + field("table", b.table) +
         field("key", "id") + field("batch_size", b.batch_size) + field("subject", b.subject) +
         (!b.facts.empty() && b.facts.front() == '\n' ? "    facts:" + b.facts + "\n" : field("facts", b.facts)) +
         field("archive", b.archive) + field("pseudonymise", b.pseudonymise);
}

DeploymentLoad LoadText(const std::string& bindings) {
  return LoadDeploymentText(std::string(kStores) + bindings, "deployment.yaml",
                            std::filesystem::temp_directory_path().string(), Policies());
}

std::string Messages(const Diagnostics& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.ToString() + "\n";
  return out;
}

Deployment Load(const std::string& bindings) {
  DeploymentLoad load = LoadText(bindings);
  INFO(Messages(load.diagnostics));
  REQUIRE(!HasErrors(load.diagnostics));
  return std::move(load.deployment);
}

Stores Open(const Deployment& deployment) {
  ConnectorRegistry registry;
  RegisterBuiltinConnectors(registry);
  REQUIRE(registry.Has("postgres"));
  return ValueOf(Stores::Open(deployment, registry));
}

// Open, and every binding's table and columns are there.
Stores OpenValidated(const Deployment& deployment) {
  Stores stores = Open(deployment);
  CHECK(ValidateSchemas(deployment, stores).empty());
  return stores;
}

StoreConfig MainStore() {
  StoreConfig store;
  store.name = "main";
  store.type = "postgres";
  return store;
}

std::unique_ptr<Connector> Connect() {
  StoreConfig store = MainStore();
  store.dsn_env = "RETENTION_TEST_PG";
  return ValueOf(OpenPostgresConnector(store));
}

Date D(const char* text) {
  auto d = Date::Parse(text);
  REQUIRE(d.has_value());
  return *d;
}

struct RunOptions {
  bool apply = false;
  bool full_scan = false;
  bool count_in_store = true;
  std::map<std::string, std::string> keys;
  std::vector<std::string> only;
};

Plan Run(const Deployment& deployment, const Stores& stores, const char* as_of, RunOptions o = {}) {
  ExecuteOptions options;
  options.as_of = D(as_of);
  options.apply = o.apply;
  options.full_scan = o.full_scan;
  options.count_in_store = o.count_in_store;
  options.run_id = fmt::format("run-{}", as_of);
  options.pseudonymise_keys = o.keys;
  options.only_bindings = o.only;
  return ValueOf(Execute(deployment, Policies(), stores, options));
}

const BindingPlan& Of(const Plan& plan, const std::string& name) {
  for (const auto& b : plan.bindings)
    if (b.binding == name) {
      INFO(name << " errors: " << fmt::format("{}", fmt::join(b.errors, "; ")));
      CHECK(b.errors.empty());
      return b;
    }
  FAIL("no binding " << name << " in the plan");
  throw;  // unreachable
}

int64_t Due(const BindingPlan& b, Phase phase) {
  auto it = b.due.find(phase);
  return it == b.due.end() ? 0 : it->second.count;
}

int64_t Applied(const BindingPlan& b, Phase phase) {
  auto it = b.applied.find(phase);
  return it == b.applied.end() ? 0 : it->second;
}

std::string HmacHex(const std::string& key, const std::string& value) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(value.data()),
       value.size(), md, &len);
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

}  // namespace

TEST_CASE("postgres: the connection string comes from the environment or an owner-only file", "[postgres]") {
  const std::string secret = "pw-" + RandomSuffix();
  StoreConfig store = MainStore();
  // Opening `store` fails: the message.
  auto open_error = [&] {
    auto c = OpenPostgresConnector(store);
    REQUIRE_FALSE(c.ok());
    return c.status().message();
  };

  SECTION("an unset variable is a clear error") {
    store.dsn_env = "RETENTION_TEST_PG_NOT_SET_" + RandomSuffix();
    CHECK_THAT(open_error(), Catch::Contains(store.dsn_env) && Catch::Contains("not set"));
  }

  SECTION("a dsn_file readable by others is refused, an owner-only one is used") {
    auto path = std::filesystem::temp_directory_path() / ("retention-pg-dsn-" + RandomSuffix());
    {
      std::ofstream out(path);
      out << std::getenv("RETENTION_TEST_PG") << " password=" << secret << "\n";
    }
    store.dsn_file = path.string();
    ::chmod(path.c_str(), 0644);
    const std::string refused = open_error();
    CHECK_THAT(refused, Catch::Contains("owner-only") && Catch::Contains(path.string()));
    CHECK_THAT(refused, !Catch::Contains(secret) && !Catch::Contains("port="));
    ::chmod(path.c_str(), 0640);
    CHECK_FALSE(OpenPostgresConnector(store).ok());
    ::chmod(path.c_str(), 0600);
    auto opened = OpenPostgresConnector(store);  // trust authentication ignores the password
    INFO(opened.status().message());
    CHECK(opened.ok());
    std::filesystem::remove(path);
  }

  SECTION("a failed connection or a malformed string never shows the password") {
    const std::string var = "RETENTION_TEST_PG_BAD_" + RandomSuffix();
    store.dsn_env = var;
    ::setenv(var.c_str(), ("host=127.0.0.1 port=1 user=postgres connect_timeout=3 password=" + secret).c_str(), 1);
    CHECK_THAT(open_error(), Catch::Contains("store 'main'") && !Catch::Contains(secret));
    ::setenv(var.c_str(), ("host=127.0.0.1 password " + secret).c_str(), 1);
    CHECK_THAT(open_error(), Catch::Contains("not a valid") && !Catch::Contains(secret));
    ::unsetenv(var.c_str());
  }
}

TEST_CASE("postgres: Describe and ValidateSchemas locate a missing column", "[postgres]") {
  PgSession db;
  CreateTable(db, "droits",
              "id integer PRIMARY KEY, nir character varying(15), fin_droits date, montant numeric(10,2), "
              "code character(3), maj timestamp with time zone");
  auto c = Connect();

  auto columns = ValueOf(c->Describe(db.T("droits")));
  REQUIRE(columns.size() == 6);
  CHECK(columns[0].name == "id");
  CHECK(columns[0].type == "integer");
  CHECK(columns[0].primary_key);
  CHECK(columns[1].name == "nir");
  CHECK(columns[1].type == "character varying(15)");
  CHECK_FALSE(columns[1].primary_key);
  CHECK(columns[2].type == "date");
  CHECK(columns[3].type == "numeric(10,2)");
  CHECK(columns[4].type == "character(3)");
  CHECK(columns[5].type == "timestamp with time zone");

  auto missing = c->Describe(db.T("nope"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Status::Code::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("table '" + db.T("nope") + "' does not exist"));
  // Without a schema the table is looked up in the current schema (public), not here.
  CHECK(c->Describe("droits").status().code() == Status::Code::kNotFound);

  Deployment d = Load(
      Yaml({.rule = "F01.droits", .table = db.T("droits"), .subject = "nir", .facts = "{fin_droits: fin_droit}"}) +
      Yaml({.rule = "F01.droits", .name = "good", .table = db.T("droits"), .facts = kFinDroits}) +
      Yaml({.rule = "F01.droits", .name = "absent", .table = db.T("absent"), .facts = kFinDroits}));
  Stores stores = Open(d);
  Diagnostics diagnostics = ValidateSchemas(d, stores);
  INFO(Messages(diagnostics));
  REQUIRE(diagnostics.size() == 2);
  CHECK(diagnostics[0].file == "deployment.yaml");
  CHECK(diagnostics[0].line == 5);  // the first binding
  CHECK(diagnostics[0].severity == Diagnostic::Severity::kError);
  CHECK_THAT(diagnostics[0].message, Catch::Contains("binding 'F01.droits'") &&
                                         Catch::Contains("fact 'fin_droits' column 'fin_droit' does not exist"));
  CHECK(diagnostics[1].line == 17);
  CHECK_THAT(diagnostics[1].message, Catch::Contains("binding 'absent'") && Catch::Contains("does not exist"));
}

TEST_CASE("postgres: a hostile table name is refused when the configuration is loaded", "[postgres]") {
  PgSession db;
  CreateTable(db, "y", "id integer PRIMARY KEY");
  DeploymentLoad load =
      LoadText(Yaml({.rule = "F01.droits", .table = "\"x; DROP TABLE " + db.T("y") + "\"", .facts = kFinDroits}));
  REQUIRE(HasErrors(load.diagnostics));
  INFO(Messages(load.diagnostics));
  bool located = false;
  for (const auto& diag : load.diagnostics)
    if (diag.line == 7 && diag.message.find("not a valid SQL identifier") != std::string::npos) located = true;
  CHECK(located);
  CHECK_FALSE(IsValidIdentifier("x; DROP TABLE y", true));
  // Nothing ran: the table is still there.
  CHECK(db.Scalar(fmt::format("SELECT to_regclass('{}') IS NOT NULL", db.T("y"))) == "t");

  DeploymentLoad sql_fact = LoadText(
      Yaml({.rule = "F01.droits", .table = db.T("y"), .facts = "{fin_droits: {sql: \"SELECT 1; DROP TABLE y\"}}"}));
  CHECK(HasErrors(sql_fact.diagnostics));
}

TEST_CASE("postgres: F01.droits rows are deleted the day after fin_droits + 3 years", "[postgres]") {
  PgSession db;
  CreateTable(db, "droits", "id integer PRIMARY KEY, nir text, fin_droits date");
  // as_of 2025-03-01: due when fin_droits + 3y < as_of, i.e. fin_droits <= 2022-02-28.
  Insert(db, "droits",
         "(1, '1800101000001', '2022-02-28'), (2, '1800101000002', '2022-03-01'), "
         "(3, '1800101000003', '2010-01-01'), (4, '1800101000004', '2030-01-01'), (5, '1800101000005', NULL)");
  Deployment d = Load(Yaml({.rule = "F01.droits", .table = db.T("droits"), .subject = "nir", .facts = kFinDroits}));
  Stores stores = OpenValidated(d);

  Plan plan = Run(d, stores, "2025-03-01");
  const BindingPlan& b = Of(plan, "F01.droits");
  CHECK(b.total_rows == 5);
  CHECK(b.exact_pushdown);
  // Counted by the server: the 2 rows the predicate selects and the 1 with fin_droits NULL.
  CHECK(b.counted_in_store);
  CHECK(b.scanned == 3);
  CHECK(b.missing == std::map<std::string, int64_t>{{"fin_droits", 1}});
  CHECK(Due(b, Phase::kDelete) == 2);
  const BindingPlan read = Of(Run(d, stores, "2025-03-01", {.count_in_store = false}), "F01.droits");
  CHECK(read.scanned == 2);  // the predicate ran in PostgreSQL
  CHECK(Due(read, Phase::kDelete) == 2);
  CHECK(Ids(db, "droits") == Strings{"1", "2", "3", "4", "5"});

  Plan full = Run(d, stores, "2025-03-01", {.full_scan = true});
  const BindingPlan& fb = Of(full, "F01.droits");
  CHECK(fb.scanned == 5);
  CHECK(Due(fb, Phase::kDelete) == 2);
  CHECK(fb.missing.at("fin_droits") == 1);
  CHECK(fb.scheduled == 2);

  Plan run = Run(d, stores, "2025-03-01", {.apply = true});
  CHECK(Applied(Of(run, "F01.droits"), Phase::kDelete) == 2);
  CHECK(Ids(db, "droits") == Strings{"2", "4", "5"});

  // A day later the boundary record is due.
  Plan next = Run(d, stores, "2025-03-02", {.apply = true});
  CHECK(Due(Of(next, "F01.droits"), Phase::kDelete) == 1);
  CHECK(Ids(db, "droits") == Strings{"4", "5"});
}

TEST_CASE("postgres: F05.prestations are archived in the same database, then deleted from the archive",
          "[postgres]") {
  PgSession db;
  CreateTable(db, "prestations",
              "id bigint PRIMARY KEY, nir character varying(15), date_versement date, "
              "montant numeric(10,2), libelle text");
  // Archive due when date_versement + 3y < as_of; delete when date_versement + 13y < as_of.
  Insert(db, "prestations",
         "(1, '1800101000001', '2022-06-14', 12.50, 'consultation é'), "
         "(2, '1800101000002', '2022-06-15', 99.99, 'pharmacie')");
  const std::string source = db.T("prestations"), archive = db.T("prestations_archive");
  Deployment d = Load(Yaml({.rule = "F05.prestations",
                            .table = source,
                            .subject = "nir",
                            .facts = "{date_versement: date_versement}",
                            .archive = fmt::format("{{store: main, table: {}}}", archive)}));
  Stores stores = OpenValidated(d);

  Plan plan = Run(d, stores, "2025-06-15");
  CHECK(Due(Of(plan, "F05.prestations"), Phase::kArchive) == 1);
  CHECK(Of(plan, "F05.prestations@archive").total_rows == 0);  // not created yet

  Plan run = Run(d, stores, "2025-06-15", {.apply = true});
  CHECK(Applied(Of(run, "F05.prestations"), Phase::kArchive) == 1);
  CHECK(Ids(db, "prestations") == Strings{"2"});
  auto rows = db.Query(fmt::format(
      "SELECT id, nir, date_versement, montant, libelle, archived_at, rule_id, run_id FROM {} ORDER BY id", archive));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == std::vector<Cell>{"1", "1800101000001", "2022-06-14", "12.50", "consultation é", "2025-06-15",
                                     "F05.prestations", "run-2025-06-15"});
  // The archive table keeps the source's types and is keyed by the source's key.
  auto c = Connect();
  auto columns = ValueOf(c->Describe(archive));
  CHECK(columns[0].primary_key);
  CHECK(columns[3].type == "numeric(10,2)");
  CHECK(columns[1].type == "character varying(15)");
  // Run again: nothing left to do.
  Plan again = Run(d, stores, "2025-06-15", {.apply = true});
  CHECK(Of(again, "F05.prestations").DueTotal() == 0);
  CHECK(Of(again, "F05.prestations@archive").DueTotal() == 0);

  // Ten years later: record 2 is archived; record 1 reaches its last archived day.
  Plan later = Run(d, stores, "2035-06-14", {.apply = true});
  CHECK(Applied(Of(later, "F05.prestations"), Phase::kArchive) == 1);
  CHECK(Due(Of(later, "F05.prestations@archive"), Phase::kDelete) == 0);
  CHECK(Ids(db, "prestations_archive") == Strings{"1", "2"});
  CHECK(db.Scalar(fmt::format("SELECT COUNT(*) FROM {}", source)) == "0");

  // The day after: record 1 is deleted from the archive, record 2 stays.
  Plan plan_delete = Run(d, stores, "2035-06-15");
  CHECK(Due(Of(plan_delete, "F05.prestations@archive"), Phase::kDelete) == 1);
  Plan last = Run(d, stores, "2035-06-15", {.apply = true});
  CHECK(Applied(Of(last, "F05.prestations@archive"), Phase::kDelete) == 1);
  CHECK(Ids(db, "prestations_archive") == Strings{"2"});
}

TEST_CASE("postgres: WriteArchive twice adds no duplicate and never overwrites a different record", "[postgres]") {
  PgSession db;
  auto c = Connect();
  ArchiveRows rows;
  rows.table = db.T("copies");
  rows.key = "id";
  rows.columns = {{"id", "integer", true}, {"nir", "character varying(15)", false}, {"paid", "date", false}};
  rows.rows = {{Cell("1"), Cell("1800101000001"), Cell("2020-01-01")}, {Cell("2"), Cell(), Cell()}};
  rows.rule_id = "F05.prestations";
  rows.run_id = "run-1";
  rows.archived_at = D("2025-06-15");
  CHECK(ValueOf(c->WriteArchive(rows)).refused.empty());
  // The same rows again (a retried run), one of them changed meanwhile: what is there
  // stays, and the changed one is refused (its source record is then kept).
  rows.rows[0][1] = Cell("changed");
  rows.run_id = "run-2";
  rows.rows.push_back({Cell("3"), Cell("1800101000003"), Cell("2021-02-03")});
  CHECK(ValueOf(c->WriteArchive(rows)).refused == Strings{"1"});
  auto stored = db.Query(fmt::format("SELECT id, nir, paid, archived_at, rule_id, run_id FROM {} ORDER BY id", rows.table));
  REQUIRE(stored.size() == 3);
  CHECK(stored[0] == std::vector<Cell>{"1", "1800101000001", "2020-01-01", "2025-06-15", "F05.prestations", "run-1"});
  CHECK(stored[1] == std::vector<Cell>{"2", Cell(), Cell(), "2025-06-15", "F05.prestations", "run-1"});
  CHECK(stored[2][0] == "3");
  CHECK(stored[2][5] == "run-2");
}

TEST_CASE("postgres: F55.accompagnement is pseudonymised once, with keyed tokens", "[postgres]") {
  PgSession db;
  const std::string nir = "1850775123456";
  std::string bindings;
  for (const char* table : {"acc_a", "acc_b", "acc_c"}) {
    CreateTable(db, table,
                "id integer PRIMARY KEY, nir character varying(64), nom text, cloture date, pseudonymised_at date");
    // as_of 2025-06-15: pseudonymise when cloture + 18m < as_of, i.e. cloture <= 2023-12-14.
    Insert(db, table,
           fmt::format("(1, '{}', 'Martin', '2023-12-14', NULL), (2, '2900101000002', 'Durand', '2023-12-15', NULL)",
                       nir));
    bindings += Yaml({.rule = "F55.accompagnement",
                      .name = table,
                      .table = db.T(table),
                      .subject = "nir",
                      .facts = "{cloture: cloture}",
                      .pseudonymise =
                          "{columns: [nir], marker: pseudonymised_at, key_env: RETENTION_TEST_PSEUDONYM_KEY}"});
  }
  Deployment d = Load(bindings);
  Stores stores = OpenValidated(d);
  const std::map<std::string, std::string> keys = {{"acc_a", "key-one"}, {"acc_b", "key-one"}, {"acc_c", "key-two"}};

  Plan plan = Run(d, stores, "2025-06-15", {.keys = keys});
  for (const char* b : {"acc_a", "acc_b", "acc_c"}) CHECK(Due(Of(plan, b), Phase::kPseudonymise) == 1);
  CHECK(db.Scalar(fmt::format("SELECT nir FROM {} WHERE id = 1", db.T("acc_a"))) == nir);

  Plan run = Run(d, stores, "2025-06-15", {.apply = true, .keys = keys});
  for (const char* b : {"acc_a", "acc_b", "acc_c"}) CHECK(Applied(Of(run, b), Phase::kPseudonymise) == 1);
  auto row = [&](const char* table, int id) {
    auto rows = db.Query(fmt::format("SELECT nir, nom, pseudonymised_at FROM {} WHERE id = {}", db.T(table), id));
    REQUIRE(rows.size() == 1);
    return rows[0];
  };
  auto a = row("acc_a", 1), b = row("acc_b", 1), c = row("acc_c", 1);
  CHECK(a[0] == HmacHex("key-one", nir));
  CHECK(a[0]->size() == 64);
  CHECK(a[1] == "Martin");  // only the configured columns change
  CHECK(a[2] == "2025-06-15");
  CHECK(b[0] == a[0]);  // one key: the same person has the same token in both tables
  CHECK(c[0] == HmacHex("key-two", nir));
  CHECK(c[0] != a[0]);  // another key: another token
  CHECK(row("acc_a", 2) == std::vector<Cell>{"2900101000002", "Durand", Cell()});  // not yet due

  // A later run (even with another key) leaves a pseudonymised row as it is.
  Plan again = Run(d, stores, "2025-07-01", {.apply = true, .keys = {{"acc_a", "other"}, {"acc_b", "other"}, {"acc_c", "other"}}});
  const BindingPlan& ba = Of(again, "acc_a");
  CHECK(ba.already_done == 1);
  CHECK(Applied(ba, Phase::kPseudonymise) == 1);  // row 2, now due
  CHECK(row("acc_a", 1) == a);
  CHECK(row("acc_b", 1) == b);
  CHECK(row("acc_c", 1) == c);

  // Three years after the pseudonymisation phase began, row 1 is deleted.
  Plan purge = Run(d, stores, "2028-06-15", {.apply = true, .keys = keys});
  CHECK(Applied(Of(purge, "acc_a"), Phase::kDelete) == 1);
  CHECK(Ids(db, "acc_a") == Strings{"2"});
}

TEST_CASE("postgres: an SQL fact over a related table (F04.victime)", "[postgres]") {
  PgSession db;
  CreateTable(db, "victimes",
              "id integer PRIMARY KEY, nir text, ayants_droit boolean, contentieux boolean, "
              "decision_definitive date, deces date");
  CreateTable(db, "ayants_droit",
              fmt::format("id serial PRIMARY KEY, victime_id integer NOT NULL REFERENCES {} (id) ON DELETE CASCADE, "
                          "fin_droits date",
                          db.T("victimes")));
  // as_of 2025-06-15. With dependants: due when MAX(fin_droits) + 5y < as_of, i.e. <= 2020-06-14.
  // Without: due when deces + 20y < as_of, i.e. deces <= 2005-06-14.
  Insert(db, "victimes",
         "(1, 'v1', TRUE, FALSE, NULL, NULL), (2, 'v2', TRUE, FALSE, NULL, NULL), "
         "(3, 'v3', FALSE, FALSE, NULL, '2005-06-14'), (4, 'v4', TRUE, TRUE, NULL, NULL), "
         "(5, 'v5', FALSE, FALSE, NULL, '2005-06-15')");
  db.Exec(fmt::format(
      "INSERT INTO {} (victime_id, fin_droits) VALUES (1, '2015-01-01'), (1, '2020-06-14'), (2, '2010-01-01'), "
      "(2, '2020-06-15'), (4, '2000-01-01')",
      db.T("ayants_droit")));
  Deployment d = Load(Yaml({.rule = "F04.victime",
                            .table = db.T("victimes"),
                            .subject = "nir",
                            .facts = fmt::format(
                                "\n"
                                "      ayants_droit: ayants_droit\n"
                                "      extinction_droits_ayants_droit: {{sql: \"SELECT MAX(d.fin_droits) FROM {} d "
                                "WHERE d.victime_id = t.id\"}}\n"
                                "      contentieux: contentieux\n"
                                "      decision_definitive: decision_definitive\n"
                                "      deces: deces",
                                db.T("ayants_droit"))}));
  Stores stores = OpenValidated(d);

  Plan plan = Run(d, stores, "2025-06-15");
  const BindingPlan& b = Of(plan, "F04.victime");
  CHECK(Due(b, Phase::kDelete) == 2);
  REQUIRE(b.due.count(Phase::kDelete));
  Strings keys = b.due.at(Phase::kDelete).sample_keys;
  std::sort(keys.begin(), keys.end());
  CHECK(keys == Strings{"1", "3"});
  Plan full = Run(d, stores, "2025-06-15", {.full_scan = true});
  const BindingPlan& fb = Of(full, "F04.victime");
  CHECK(Due(fb, Phase::kDelete) == 2);
  CHECK(fb.held.count == 1);  // litigation without a final decision
  CHECK(fb.held.sample_keys == Strings{"4"});

  Plan run = Run(d, stores, "2025-06-15", {.apply = true});
  CHECK(Applied(Of(run, "F04.victime"), Phase::kDelete) == 2);
  CHECK(Ids(db, "victimes") == Strings{"2", "4", "5"});
  CHECK(db.Column(fmt::format("SELECT DISTINCT victime_id FROM {} ORDER BY 1", db.T("ayants_droit"))) ==
        Strings{"2", "4"});

  // The next day the last dependant's five years are over for victim 2, and victim 5's twenty.
  Plan next = Run(d, stores, "2025-06-16", {.apply = true});
  CHECK(Applied(Of(next, "F04.victime"), Phase::kDelete) == 2);
  CHECK(Ids(db, "victimes") == Strings{"4"});
}

TEST_CASE("postgres: a timestamptz date fact reduces to its Europe/Paris date", "[postgres]") {
  PgSession db;
  CreateTable(db, "droits", "id integer PRIMARY KEY, fin_droits timestamp with time zone");
  Insert(db, "droits",
         "(1, '2020-01-31 23:30:00+00'), "  // 2020-02-01 00:30 in Paris (CET)
         "(2, '2020-01-31 22:30:00+00'), "  // 2020-01-31 23:30 in Paris
         "(3, '2020-06-30 22:30:00+00')");  // 2020-07-01 00:30 in Paris (CEST)
  Deployment d = Load(Yaml({.rule = "F01.droits", .table = db.T("droits"), .facts = kFinDroits}));
  Stores stores = Open(d);

  // Paris dates + 3y: row 2 → 2023-01-31, row 1 → 2023-02-01, row 3 → 2023-07-01 (the last active days).
  for (bool full_scan : {false, true}) {
    INFO("full_scan " << full_scan);
    auto due = [&](const char* as_of) {
      Plan p = Run(d, stores, as_of, {.full_scan = full_scan});
      const BindingPlan& b = Of(p, "F01.droits");
      return Due(b, Phase::kDelete) == 0 ? Strings{} : b.due.at(Phase::kDelete).sample_keys;
    };
    CHECK(due("2023-01-31") == Strings{});
    CHECK(due("2023-02-01") == Strings{"2"});
    CHECK(due("2023-02-02").size() == 2);
    CHECK(due("2023-07-01").size() == 2);
    CHECK(due("2023-07-02").size() == 3);
  }

  Plan run = Run(d, stores, "2023-02-01", {.apply = true});
  CHECK(Applied(Of(run, "F01.droits"), Phase::kDelete) == 1);
  CHECK(Ids(db, "droits") == Strings{"1", "3"});
}

TEST_CASE("postgres: scans stream in batches, stop early, and errors name the store", "[postgres]") {
  PgSession db;
  CreateTable(db, "big", "id integer PRIMARY KEY, fin_droits date");
  db.Exec(fmt::format("INSERT INTO {} SELECT g, DATE '2000-01-01' + g FROM generate_series(1, 2500) AS g", db.T("big")));
  Deployment d = Load(
      Yaml({.rule = "F01.droits", .table = db.T("big"), .batch_size = "100", .facts = kFinDroits}) +
      Yaml({.rule = "F01.droits",
            .name = "broken",
            .table = db.T("big"),
            .facts = "{fin_droits: {sql: \"DATE '2000-01-01' + (1 / (t.id - t.id))\"}}"}));
  Stores stores = Open(d);
  Connector* c = stores.Find("main");
  REQUIRE(c);
  const retention::Binding* binding = d.FindBinding("F01.droits");
  REQUIRE(binding);

  ScanRequest request;
  request.binding = binding;
  request.facts = {"fin_droits"};
  request.batch_size = 100;
  size_t batches = 0, rows = 0;
  Status all = c->Scan(request, [&](std::vector<RawRecord>& batch) {
    ++batches;
    rows += batch.size();
    return true;
  });
  REQUIRE(all.ok());
  CHECK(batches == 25);
  CHECK(rows == 2500);

  batches = 0;
  Status stopped = c->Scan(request, [&](std::vector<RawRecord>&) {
    ++batches;
    return false;
  });
  INFO(stopped.message());
  CHECK(stopped.ok());
  CHECK(batches == 1);
  auto count = c->Count(*binding);  // the connection is usable after a scan stopped early
  REQUIRE(count.ok());
  CHECK(*count == 2500);

  ExecuteOptions options;
  options.as_of = D("2030-01-01");
  options.only_bindings = {"broken"};
  auto failed = Execute(d, Policies(), stores, options);
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.status().message(),
             Catch::Contains("postgres store 'main'") && Catch::Contains("division by zero") &&
                 Catch::Contains("22012") && !Catch::Contains("2027-01-01"));
  CHECK(c->Count(*binding).ok());

  // A whole run over many batches.
  Plan run = Run(d, stores, "2005-01-01", {.apply = true, .only = {"F01.droits"}});
  const BindingPlan& b = Of(run, "F01.droits");
  // fin_droits + 3y < 2005-01-01: fin_droits <= 2001-12-31, ids 1..730.
  CHECK(Applied(b, Phase::kDelete) == 730);
  CHECK(db.Scalar(fmt::format("SELECT MIN(id) FROM {}", db.T("big"))) == "731");
}

TEST_CASE("postgres: an error never quotes the data values the server names", "[postgres]") {
  PgSession db;
  CreateTable(db, "droits", "id integer PRIMARY KEY, fin_texte text");
  Insert(db, "droits", "(1, 'NIR-180017512345678')");
  Deployment d = Load(Yaml({.rule = "F01.droits",
                            .table = db.T("droits"),
                            .facts = "{fin_droits: {sql: \"t.fin_texte::date\"}}"}));
  Stores stores = Open(d);
  ExecuteOptions options;
  options.as_of = D("2030-01-01");
  options.full_scan = true;
  auto failed = Execute(d, Policies(), stores, options);
  REQUIRE_FALSE(failed.ok());
  // The server says: invalid input syntax for type date: "NIR-180017512345678".
  CHECK_THAT(failed.status().message(), Catch::Contains("invalid input syntax for type date: (value not shown)") &&
                                            Catch::Contains("22007") && !Catch::Contains("180017512345678"));
}

namespace {

// The deployment of F05.prestations over `source`, archived into `archive` in store
// `archive_store` ("main", or "other": a second connection to the same database).
Deployment PrestationsDeployment(const std::string& source, const std::string& archive, const std::string& archive_store) {
  std::string text = std::string(kStores).replace(std::string(kStores).find("bindings:"), 9,
                                                  "  other: {type: postgres, dsn_env: RETENTION_TEST_PG}\nbindings:") +
                     "  - rule: F05.prestations\n    store: main\n    table: " + source +
                     "\n    key: id\n    subject: nir\n    facts: {date_versement: date_versement}\n    archive: {store: " +
                     archive_store + ", table: " + archive + "}\n";
  DeploymentLoad load = LoadDeploymentText(text, "deployment.yaml", std::filesystem::temp_directory_path().string(),
                                           Policies());
  INFO(Messages(load.diagnostics));
  REQUIRE(!HasErrors(load.diagnostics));
  return std::move(load.deployment);
}

const BindingPlan& Find(const Plan& plan, const std::string& name) {
  auto it = std::find_if(plan.bindings.begin(), plan.bindings.end(), [&](const BindingPlan& b) { return b.binding == name; });
  REQUIRE(it != plan.bindings.end());
  return *it;
}

}  // namespace

TEST_CASE("postgres: an archive under a reused key never loses the new record", "[postgres][archive][keys]") {
  auto store = GENERATE(as<std::string>{}, "main", "other");
  INFO("archive store: " << store);
  PgSession db;
  CreateTable(db, "prestations", "id integer PRIMARY KEY, nir text, date_versement date, montant numeric(10,2)");
  Insert(db, "prestations", "(1, 'a', '2020-01-10', 10.50)");
  const std::string source = db.T("prestations"), archive = db.T("prestations_archive");
  Deployment d = PrestationsDeployment(source, archive, store);
  Stores stores = OpenValidated(d);
  REQUIRE(Applied(Of(Run(d, stores, "2026-11-22", {.apply = true}), "F05.prestations"), Phase::kArchive) == 1);
  Insert(db, "prestations", "(1, 'b', '2021-02-03', 99.00)");  // the key is given again
  Plan second = Run(d, stores, "2026-11-22", {.apply = true});
  const BindingPlan& b = Find(second, "F05.prestations");
  CHECK(Applied(b, Phase::kArchive) == 0);
  CHECK(b.refused_at_apply == 1);
  CHECK(b.Incomplete());
  REQUIRE(b.errors.size() == 1);
  CHECK_THAT(b.errors[0], Catch::Contains("archive already holds a different record"));
  CHECK(db.Column(fmt::format("SELECT nir FROM {}", source)) == Strings{"b"});
  CHECK(db.Column(fmt::format("SELECT nir FROM {}", archive)) == Strings{"a"});
}

TEST_CASE("postgres: a key column that is not unique is refused at the binding", "[postgres][keys]") {
  using Row = std::tuple<const char*, const char*, bool>;
  auto [what, columns, accepted] = GENERATE(table<const char*, const char*, bool>({
      Row{"primary key", "id integer PRIMARY KEY, nir text, fin_droits date", true},
      Row{"unique not null", "id integer NOT NULL UNIQUE, nir text, fin_droits date", true},
      Row{"no index", "id integer, nir text, fin_droits date", false},
      Row{"unique but nullable", "id integer UNIQUE, nir text, fin_droits date", false},
      Row{"part of a composite primary key", "id integer, nir text, fin_droits date, PRIMARY KEY (id, nir)", false},
  }));
  INFO(what);
  PgSession db;
  CreateTable(db, "droits", columns);
  Deployment d = Load(Yaml({.rule = "F01.droits", .table = db.T("droits"), .subject = "nir", .facts = kFinDroits}));
  Stores stores = Open(d);
  Diagnostics found = ValidateSchemas(d, stores);
  INFO(Messages(found));
  if (accepted) {
    CHECK(found.empty());
  } else {
    REQUIRE(found.size() == 1);
    CHECK_THAT(found[0].ToString(), Catch::StartsWith("deployment.yaml:5:") && Catch::Contains("is not unique"));
  }
}

TEST_CASE("postgres: the archive store's later delete acts only on the row it evaluated", "[postgres][archive][keys]") {
  PgSession db;
  CreateTable(db, "prestations", "id integer PRIMARY KEY, nir text, date_versement date, montant numeric(10,2)");
  // An archive table made by hand without a key: two records under id 5, one past its
  // archive period, one archived recently.
  CreateTable(db, "prestations_archive", "id integer, nir text, date_versement date, montant numeric(10,2), "
                                         "archived_at date, rule_id text, run_id text");
  Insert(db, "prestations_archive", "(5, 'old', '2010-01-10', 1, '2013-01-11', 'F05.prestations', 'r1'), "
                                    "(5, 'new', '2022-05-05', 2, '2025-05-06', 'F05.prestations', 'r2')");
  Deployment d = PrestationsDeployment(db.T("prestations"), db.T("prestations_archive"), "main");
  Stores stores = Open(d);
  Diagnostics found = ValidateSchemas(d, stores);
  REQUIRE(found.size() == 1);
  CHECK_THAT(found[0].message, Catch::Contains("F05.prestations@archive") && Catch::Contains("is not unique"));
  // Forced through: the apply refuses the ambiguous key and keeps both rows.
  Plan p = Run(d, stores, "2026-11-22", {.apply = true});
  const BindingPlan& b = Find(p, "F05.prestations@archive");
  CHECK(Applied(b, Phase::kDelete) == 0);
  CHECK(b.refused_at_apply == 1);
  CHECK(db.Column(fmt::format("SELECT nir FROM {} ORDER BY nir", db.T("prestations_archive"))) == Strings{"new", "old"});
}

TEST_CASE("postgres: a policy change's impact and a retention lock, through the plan on PostgreSQL rows",
          "[postgres][policy_change]") {
  PgSession db;
  CreateTable(db, "droits", "id integer PRIMARY KEY, nir text, fin_droits date");
  // As of 2025-03-01, F01.droits (3 years) deletes ids 1 and 3; shortened to 1 year, also id 2.
  Insert(db, "droits",
         "(1, '1800101000001', '2022-02-28'), (2, '1800101000002', '2023-06-01'), "
         "(3, '1800101000003', '2010-01-01'), (4, '1800101000004', '2030-01-01'), (5, '1800101000005', NULL)");
  Deployment d = Load(Yaml({.rule = "F01.droits", .table = db.T("droits"), .subject = "nir", .facts = kFinDroits}));
  Stores stores = OpenValidated(d);
  std::vector<PolicyText> texts = Policies().texts;
  for (auto& t : texts)
    if (t.name == "01_gestion_des_droits/F01.yaml") t.text.replace(t.text.find("fin_droits + 3y"), 15, "fin_droits + 1y");
  LoadResult shortened = LoadPolicyTexts(Policies().vocabulary_text, texts);
  REQUIRE_FALSE(HasErrors(shortened.diagnostics));
  ImpactOptions io;
  io.as_of = D("2025-03-01");
  PolicyImpact impact = ValueOf(EvaluateImpact(d, Policies(), shortened.policies, stores, io));
  REQUIRE(impact.bindings.size() == 1);
  const BindingImpact& b = impact.bindings[0];
  CHECK(b.records == 5);
  CHECK(b.actions.at(Phase::kDelete).earlier == 4);  // every record with a date
  CHECK(b.actions.at(Phase::kDelete).at_once == 1);
  CHECK(b.actions.at(Phase::kDelete).at_once_keys == Strings{"2"});
  CHECK(b.due_old.at(Phase::kDelete) == Due(Of(Run(d, stores, "2025-03-01", {.full_scan = true}), "F01.droits"), Phase::kDelete));
  CHECK(b.due_new.at(Phase::kDelete) == 3);

  // Locked, the shortened set is refused; nothing is deleted.
  auto dir = std::filesystem::temp_directory_path() / ("retention-pg-lock-" + RandomSuffix());
  std::filesystem::create_directories(dir);
  {
    StateDb state = ValueOf(StateDb::Open((dir / "state.db").string(), "k3y-for-the-postgres-lock-test"));
    RequireOk(state.LockRules(Policies(), {"F01.droits"}, "durée validée", "DPO"));
    Deployment bound = d;
    for (auto& binding : bound.bindings) binding.rule = shortened.policies.FindRule(binding.rule_id);
    retention::RunOptions o;
    o.as_of = D("2025-03-01");
    o.apply = true;
    o.certificate_dir = (dir / "certificates").string();
    auto refused = PlanOrRun(bound, shortened.policies, stores, &state, o);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == Status::Code::kFailedPrecondition);
    CHECK(refused.status().message().find("4 record(s) would be acted on earlier") != std::string::npos);
    CHECK(Ids(db, "droits") == Strings{"1", "2", "3", "4", "5"});
  }
  std::filesystem::remove_all(dir);
}

namespace {

// F01.droits on a table range-partitioned by year of fin_droits, keyed by (id, fin_droits)
// (a partitioned table's unique key must hold its partition column). As of 2025-03-01 a
// record is due when fin_droits <= 2022-02-28.
void CreatePartitionedDroits(PgSession& db) {
  db.Exec(fmt::format("CREATE TABLE {} (id integer NOT NULL, nir text, fin_droits date NOT NULL, "
                      "PRIMARY KEY (id, fin_droits)) PARTITION BY RANGE (fin_droits)",
                      db.T("droits")));
  for (auto [name, from, to] : {std::tuple{"droits_2010", "2010-01-01", "2011-01-01"},
                                std::tuple{"droits_2021", "2021-01-01", "2022-01-01"},
                                std::tuple{"droits_2022", "2022-01-01", "2023-01-01"},
                                std::tuple{"droits_2030", "2030-01-01", "2031-01-01"}})
    db.Exec(fmt::format("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ('{}') TO ('{}')", db.T(name), db.T("droits"),
                        from, to));
  db.Exec(fmt::format("CREATE TABLE {} PARTITION OF {} DEFAULT", db.T("droits_other"), db.T("droits")));
  Insert(db, "droits",
         "(1, 'a', '2010-03-01'), (2, 'b', '2010-06-01'), (3, 'c', '2021-02-01'), (4, 'd', '2021-07-14'), "
         "(5, 'e', '2021-12-31'), (6, 'f', '2022-02-28'), (7, 'g', '2022-03-01'), (8, 'h', '2030-05-05'), "
         "(9, 'i', '2015-05-05'), (10, 'j', '2040-01-01')");
}

bool TableExists(PgSession& db, const std::string& table) {
  return db.Column(fmt::format("SELECT to_regclass('{}') IS NOT NULL", db.T(table))) == Strings{"t"};
}

// A run of F01.droits as of 2025-03-01 whose store journal holds "digest-KEY".
ExecuteOptions PartitionRun() {
  ExecuteOptions options;
  options.as_of = D("2025-03-01");
  options.apply = true;
  options.run_id = "run-1";
  options.key_digest = [](const std::string& k) { return "digest-" + k; };
  return options;
}

class KeyHold : public HoldChecker {
 public:
  explicit KeyHold(std::string key) : key_(std::move(key)) {}
  std::optional<std::string> Held(const Binding&, const std::string& key, const std::string&) const override {
    return key == key_ ? std::optional<std::string>("litigation") : std::nullopt;
  }

 private:
  std::string key_;
};

}  // namespace

TEST_CASE("postgres: a partition whose every row is due is dropped whole, audited in batches naming it with every key",
          "[postgres][partitions]") {
  PgSession db;
  CreatePartitionedDroits(db);
  Deployment d = Load(Yaml({.rule = "F01.droits", .table = db.T("droits"), .batch_size = "2", .subject = "nir",
                            .facts = kFinDroits}));
  Stores stores = OpenValidated(d);  // the key (id, fin_droits) is accepted for a partitioned table

  KeyHold hold("2");  // a litigation hold on id 2: droits_2010 cannot go whole
  std::vector<AppliedBatch> batches;
  ExecuteOptions options = PartitionRun();
  options.holds = &hold;
  options.on_batch = [&](const AppliedBatch& b) {
    batches.push_back(b);
    return Status::Ok();
  };
  Plan plan = ValueOf(Execute(d, Policies(), stores, options));
  const BindingPlan& b = Of(plan, "F01.droits");
  CHECK(Due(b, Phase::kDelete) == 6);  // 1, 3, 4, 5, 6, 9 (2 is held)
  CHECK(b.operator_held.count == 1);
  CHECK(Applied(b, Phase::kDelete) == 6);
  CHECK(b.parts_dropped == 1);
  CHECK_FALSE(TableExists(db, "droits_2021"));
  CHECK(TableExists(db, "droits_2010"));   // held row inside
  CHECK(TableExists(db, "droits_2022"));   // 7 is not due yet
  CHECK(TableExists(db, "droits_other"));  // 10 is not due yet
  CHECK(Ids(db, "droits") == Strings{"2", "7", "8", "10"});
  // The partition's keys in audited batches of at most batch_size, each naming the
  // partition, before the rows deleted one by one.
  REQUIRE(batches.size() >= 2);
  Strings dropped, by_rows;
  for (size_t i = 0; i < batches.size(); ++i) {
    INFO("batch " << i);
    CHECK(batches[i].keys.size() <= 2);
    CHECK(batches[i].part == (i < 2 ? db.T("droits_2021") : ""));
    (i < 2 ? dropped : by_rows).insert((i < 2 ? dropped : by_rows).end(), batches[i].keys.begin(), batches[i].keys.end());
  }
  std::sort(dropped.begin(), dropped.end());
  CHECK(dropped == Strings{"3", "4", "5"});
  std::sort(by_rows.begin(), by_rows.end());
  CHECK(by_rows == Strings{"1", "6", "9"});
  // Nothing left in the store's journal once every batch is recorded.
  auto left = ValueOf(stores.Find("main")->Recover());
  CHECK(left.empty());
}

TEST_CASE("postgres: a row written into a partition after the plan keeps the partition; rows are deleted one by one",
          "[postgres][partitions]") {
  PgSession db;
  CreatePartitionedDroits(db);
  Deployment d = Load(Yaml({.rule = "F01.droits", .table = db.T("droits"), .subject = "nir", .facts = kFinDroits}));
  Stores stores = OpenValidated(d);
  bool written = false;
  ExecuteOptions options = PartitionRun();
  options.before_batch = [&] {
    if (!written) Insert(db, "droits", "(20, 'z', '2021-08-01')");  // due, but never planned
    written = true;
    return Status::Ok();
  };
  Plan plan = ValueOf(Execute(d, Policies(), stores, options));
  const BindingPlan& b = Of(plan, "F01.droits");
  CHECK(Applied(b, Phase::kDelete) == 7);  // 1 2 3 4 5 6 9, not 20
  CHECK(b.parts_dropped == 1);             // droits_2010 only: droits_2021 now holds row 20
  CHECK_FALSE(TableExists(db, "droits_2010"));
  CHECK(TableExists(db, "droits_2021"));
  CHECK(Ids(db, "droits") == Strings{"7", "8", "10", "20"});
}

TEST_CASE("postgres: a partition dropped but not yet audited is in the store's journal for the next run",
          "[postgres][partitions][journal]") {
  PgSession db;
  CreatePartitionedDroits(db);
  Deployment d = Load(Yaml({.rule = "F01.droits", .table = db.T("droits"), .subject = "nir", .facts = kFinDroits}));
  Stores stores = OpenValidated(d);
  ExecuteOptions options = PartitionRun();
  options.on_batch = [](const AppliedBatch&) { return Status::IoError("the process died before the audit entry"); };
  auto failed = Execute(d, Policies(), stores, options);
  REQUIRE_FALSE(failed.ok());
  CHECK(!TableExists(db, "droits_2010") + !TableExists(db, "droits_2021") == 1);  // the first one only
  auto staged = ValueOf(stores.Find("main")->Recover());
  REQUIRE(staged.size() == 1);
  CHECK(staged[0].binding == "F01.droits");
  CHECK(staged[0].run_id == "run-1");
  CHECK(staged[0].action == Phase::kDelete);
  Strings digests = staged[0].key_digests;
  std::sort(digests.begin(), digests.end());
  CHECK(digests == (TableExists(db, "droits_2010") ? Strings{"digest-3", "digest-4", "digest-5"}
                                                   : Strings{"digest-1", "digest-2"}));
  RequireOk(stores.Find("main")->Confirm(staged[0].id));  // the journal is shared by the database's runs
  CHECK(ValueOf(stores.Find("main")->Recover()).empty());
}

TEST_CASE("postgres: a partitioned table's key must be unique with its partition columns only", "[postgres][keys][partitions]") {
  PgSession db;
  db.Exec(fmt::format("CREATE TABLE {} (id integer NOT NULL, nir text NOT NULL, fin_droits date NOT NULL, "
                      "PRIMARY KEY (id, nir, fin_droits)) PARTITION BY RANGE (fin_droits)",
                      db.T("droits")));
  Deployment d = Load(Yaml({.rule = "F01.droits", .table = db.T("droits"), .subject = "nir", .facts = kFinDroits}));
  Stores stores = Open(d);
  Diagnostics found = ValidateSchemas(d, stores);
  INFO(Messages(found));
  REQUIRE(found.size() == 1);  // (id, nir) repeats freely within a partition
  CHECK_THAT(found[0].ToString(), Catch::Contains("is not unique"));
}

TEST_CASE("postgres: a journal made before owners gains the owner column and its rows are still recovered",
          "[postgres][journal]") {
  PgSession db;
  db.Exec(fmt::format("CREATE TABLE {} (batch TEXT NOT NULL, seq INTEGER NOT NULL, run_id TEXT NOT NULL, "
                      "binding TEXT NOT NULL, action TEXT NOT NULL, key_digest TEXT NOT NULL, PRIMARY KEY (batch, seq))",
                      db.T("_retention_journal")));
  db.Exec(fmt::format("INSERT INTO {} VALUES ('run-3:F01.droits:1', 0, 'run-3', 'F01.droits', 'delete', 'd1,d2')",
                      db.T("_retention_journal")));
  CreateTable(db, "droits", "id integer PRIMARY KEY, nir text, fin_droits date");
  Insert(db, "droits", "(1, 'a', '2015-01-01'), (2, 'b', '2015-01-01')");
  // The store's journal is in the connection's schema: this session's.
  const std::string dsn = std::string(std::getenv("RETENTION_TEST_PG")) + " options=-csearch_path=" + db.schema();
  ::setenv("RETENTION_TEST_PG_JOURNAL", dsn.c_str(), 1);
  StoreConfig store = MainStore();
  store.dsn_env = "RETENTION_TEST_PG_JOURNAL";
  std::unique_ptr<Connector> c = ValueOf(OpenPostgresConnector(store));

  auto legacy = ValueOf(c->Recover());
  REQUIRE(legacy.size() == 1);
  CHECK(legacy[0].owner.empty());  // unknown owner: taken by the deployment, as before
  CHECK(legacy[0].key_digests == Strings{"d1", "d2"});

  Binding b;
  b.name = "F01.droits";
  b.store = "main";
  b.table = db.T("droits");
  b.key = "id";
  ApplyRequest req;
  req.binding = &b;
  req.action = Phase::kDelete;
  req.keys = {"1"};
  req.run_id = "run-4";
  req.still_due = [](const RawRecord&) { return true; };
  req.key_digest = [](const std::string& k) { return "digest-" + k; };
  ApplyResult applied = ValueOf(c->Apply(req));
  CHECK(applied.applied == Strings{"1"});
  auto both = ValueOf(c->Recover());
  REQUIRE(both.size() == 2);
  std::map<std::string, std::string> owners;
  for (const auto& batch : both) owners[batch.run_id] = batch.owner;
  CHECK(owners == std::map<std::string, std::string>{{"run-3", ""}, {"run-4", std::string("digest-") + kJournalOwner}});
  CHECK(Ids(db, "droits") == Strings{"2"});
}

TEST_CASE("postgres: plan --fast counted by the server groups values as they are read", "[postgres]") {
  PgSession db;
  // A case-insensitive collation merges 'a' and 'A' in a GROUP BY; char(n) keeps its padding
  // when read (and its padded value is not a listed value), though ::text would trim it.
  db.Exec(fmt::format("CREATE COLLATION {} (provider = icu, locale = 'und-u-ks-level2', deterministic = false)", db.T("ci")));
  CreateTable(db, "signalements",
              fmt::format("id integer PRIMARY KEY, nir text, issue_ci text COLLATE {}, issue_char char(24), "
                          "decision_sans_suite date, procedure_sanction boolean, decision_definitive date, "
                          "contentieux boolean", db.T("ci")));
  for (int i = 1; i <= 20; ++i)
    Insert(db, "signalements",
           fmt::format("({}, 'n{}', '{}', 'sans_suite_organisme', '2020-01-01', false, NULL, false)", i, i,
                       i % 2 ? "sans_suite_organisme" : "SANS_SUITE_ORGANISME"));
  auto binding = [&](const char* name, const char* column) {
    return Yaml({.rule = "F22.signalements", .name = name, .table = db.T("signalements"), .subject = "nir",
                 .facts = fmt::format("{{issue_signalement: {}, decision_sans_suite: decision_sans_suite, "
                                      "procedure_sanction: procedure_sanction, decision_definitive: "
                                      "decision_definitive, contentieux: contentieux}}", column),
                 .archive = fmt::format("{{store: main, table: {}}}", db.T(std::string("archive_") + name))});
  };
  Deployment d = Load(binding("ci", "issue_ci") + binding("padded", "issue_char"));
  Stores stores = OpenValidated(d);
  // Of() requires no errors: these records are meant to be invalid.
  auto By = [](const Plan& plan, const std::string& name) -> const BindingPlan& {
    auto it = std::find_if(plan.bindings.begin(), plan.bindings.end(), [&](const BindingPlan& b) { return b.binding == name; });
    REQUIRE(it != plan.bindings.end());
    return *it;
  };
  Plan rows = Run(d, stores, "2026-11-22", {.count_in_store = false});
  Plan counted = Run(d, stores, "2026-11-22");
  CHECK(By(rows, "ci").DueTotal() == 10);
  CHECK(By(rows, "ci").invalid_facts == 10);
  CHECK(By(rows, "padded").DueTotal() == 0);
  CHECK(By(rows, "padded").invalid_facts == 20);
  for (const char* name : {"ci", "padded"}) {
    INFO(name);
    CHECK(By(counted, name).counted_in_store);
    CHECK(By(counted, name).DueTotal() == By(rows, name).DueTotal());
    CHECK(By(counted, name).invalid_facts == By(rows, name).invalid_facts);
  }
}
