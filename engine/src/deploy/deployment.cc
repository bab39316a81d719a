// Loads a deployment configuration (docs/configuration.md) with located diagnostics.
#include "retention/deployment.h"
#include "retention/connector.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "crypto/digest.h"
#include "retention/schedule.h"
#include "yaml/yaml_reader.h"

namespace retention {
namespace fs = std::filesystem;
using internal::YamlReader;

bool IsValidIdentifier(const std::string& name, bool allow_schema) {
  static const std::regex kPlain("[A-Za-z_][A-Za-z0-9_]{0,62}");
  static const std::regex kQualified("[A-Za-z_][A-Za-z0-9_]{0,62}(\\.[A-Za-z_][A-Za-z0-9_]{0,62})?");
  return std::regex_match(name, allow_schema ? kQualified : kPlain);
}

std::string Deployment::LocalStatePath() const {
  if (!state_path.empty()) return state_path;
  if (!state_server) return (fs::path(path).parent_path() / "state").lexically_normal().string();
  // Relative to the configuration's folder, as the state server's own settings.
  auto schema = state_server->options.find("schema");
  std::string name = "state." + (schema == state_server->options.end() ? "retention_state" : schema->second);
  return (fs::path(state_server->base_dir) / name).lexically_normal().string();
}

std::string Deployment::CertificatesDir() const {
  return (fs::path(LocalStatePath()).parent_path() / "certificates").string();
}

const StoreConfig* Deployment::FindStore(const std::string& name) const {
  for (const auto& s : stores)
    if (s.name == name) return &s;
  return nullptr;
}

const Binding* Deployment::FindBinding(const std::string& name) const {
  for (const auto& b : bindings)
    if (b.name == name) return &b;
  return nullptr;
}

namespace {

class DeploymentReader {
 public:
  DeploymentReader(YamlReader* reader, const PolicySet& policies, std::string base, const ConnectorRegistry* registry)
      : r_(*reader), policies_(policies), base_(std::move(base)), registry_(registry) {}

  void Read(const YAML::Node& root, Deployment* d) {
    r_.CheckMap(root, "a deployment", {"policies", "state", "audit_key", "audit_anchor", "certificate_key", "deployment_facts",
                 "stores", "bindings", "schedule"},
                {"state", "stores", "bindings"});
    if (!root.IsMap()) return;
    d->policies_dir = Resolve(r_.String(root, "policies").value_or(""));
    if (YAML::Node st = root["state"]; st && st.IsMap()) ReadStateServer(st, d);
    else d->state_path = Resolve(r_.String(root, "state").value_or(""));
    if (YAML::Node k = root["audit_key"]) {
      if (r_.CheckMap(k, "audit_key", {"file", "env"}, {})) {
        d->audit_key_file = Resolve(r_.String(k, "file").value_or(""));
        d->audit_key_env = r_.String(k, "env").value_or("");
      }
    }
    ReadProofSettings(root, d);
    if (YAML::Node sched = root["schedule"]) ReadSchedule(sched, d);
    if (YAML::Node facts = root["deployment_facts"]) ReadDeploymentFacts(facts, d);
    YAML::Node stores = root["stores"];
    if (stores && !stores.IsMap()) r_.Error(stores, "'stores' must be a map of store name to its settings");
    else if (stores)
      for (const auto& s : stores) ReadStore(s.first.Scalar(), s.second, d);
    YAML::Node bindings = root["bindings"];
    if (bindings && !bindings.IsSequence()) r_.Error(bindings, "'bindings' must be a list");
    else if (bindings)
      for (const auto& b : bindings) ReadBinding(b, d);
    AddArchiveViews(d);
    CheckStateApart(root, *d);
  }

  // The state database is the engine's own: never a data store's file or directory.
  void CheckStateApart(const YAML::Node& root, const Deployment& d) {
    if (d.state_path.empty()) return;
    std::error_code ec;
    fs::path state = fs::weakly_canonical(d.state_path, ec);
    if (ec) state = fs::path(d.state_path).lexically_normal();
    for (const auto& s : d.stores) {
      for (const std::string& p : {s.path, s.directory, s.dsn_file}) {
        if (p.empty()) continue;
        fs::path target = fs::weakly_canonical(p, ec);
        if (ec) target = fs::path(p).lexically_normal();
        auto [end, rest] = std::mismatch(target.begin(), target.end(), state.begin(), state.end());
        if (end == target.end())
          r_.Error(root["state"], fmt::format("'state' {} is {} store '{}': the state database must be a file of its "
                                              "own, outside every store", d.state_path,
                                              state == target ? "the file of" : "inside", s.name));
      }
    }
  }

 private:
  // `state: {type: postgres, dsn_env: VAR | dsn_file: path, lease_seconds: N}`.
  void ReadStateServer(const YAML::Node& node, Deployment* d) {
    if (!r_.CheckMap(node, "state", {"type", "dsn_env", "dsn_file", "schema", "lease_seconds"}, {"type"})) return;
    StoreConfig s;
    s.name = "state";
    s.type = r_.String(node, "type").value_or("");
    s.dsn_env = r_.String(node, "dsn_env").value_or("");
    s.dsn_file = Resolve(r_.String(node, "dsn_file").value_or(""));
    s.base_dir = base_;
    s.file = r_.file();
    s.line = node.Mark().line + 1;
    if (s.type != "postgres")
      r_.Error(node["type"], fmt::format("state type '{}' is not a server state database: write `state: <file>` for "
                                         "SQLite, or type: postgres", s.type));
    else if (s.dsn_env.empty() == s.dsn_file.empty())
      r_.Error(node, "a postgres state database needs one of 'dsn_env' (an environment variable) or 'dsn_file'");
    s.options["schema"] = r_.String(node, "schema").value_or("retention_state");
    const std::string& schema = s.options["schema"];
    std::string lower = schema;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (!IsValidIdentifier(schema, false))
      r_.Error(node["schema"], fmt::format("state schema '{}' is not a plain SQL identifier (letters, digits, _)",
                                           schema));
    else if (lower == "public" || lower == "information_schema" || lower.rfind("pg_", 0) == 0)
      r_.Error(node["schema"], fmt::format("state schema '{}' is the database's own: the state database needs a "
                                           "schema of its own (the default is retention_state)", schema));
    if (node["lease_seconds"]) {
      auto seconds = r_.Int(node, "lease_seconds");
      if (seconds && (*seconds < 1 || *seconds > 86400))
        r_.Error(node["lease_seconds"], "lease_seconds must be 1..86400 (how long a dead instance keeps its bindings)");
      else if (seconds) {
        d->lease_seconds = *seconds;
        s.options["lease_seconds"] = std::to_string(*seconds);
      }
    }
    d->state_server = std::move(s);
  }

  std::string Resolve(const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute()) return path;
    return (fs::path(base_) / path).lexically_normal().string();
  }

  // Anchors of the audit chain and the key that signs certificates.
  void ReadProofSettings(const YAML::Node& root, Deployment* d) {
    // A server state database is anchored by each host, beside the configuration.
    d->anchor_file = d->state_server || !d->state_path.empty() ? d->LocalStatePath() + ".anchors" : "";
    if (YAML::Node a = root["audit_anchor"]; a && r_.CheckMap(a, "audit_anchor", {"file", "syslog"}, {})) {
      std::string file = r_.String(a, "file").value_or(d->anchor_file);
      d->anchor_file = file == "none" ? "" : Resolve(file);
      d->anchor_syslog = r_.Bool(a, "syslog").value_or(false);
      if (d->anchor_file.empty() && !d->anchor_syslog) r_.Error(a, "audit_anchor needs a file or syslog: true");
      if (!d->anchor_file.empty() && d->anchor_file == d->state_path)
        r_.Error(a["file"], "the anchor file must not be the state database");
    }
    if (YAML::Node k = root["certificate_key"]; k && r_.CheckMap(k, "certificate_key", {"private", "public"}, {"private"})) {
      d->certificate_key_file = Resolve(r_.String(k, "private").value_or(""));
      d->certificate_public_key_file = Resolve(r_.String(k, "public").value_or(""));
    }
  }

  // `schedule: {cron: "30 2 * * *", max_duration: 2h, catch_up: true}`.
  void ReadSchedule(const YAML::Node& node, Deployment* d) {
    if (!r_.CheckMap(node, "schedule", {"cron", "max_duration", "catch_up"}, {})) return;
    if (auto cron = r_.String(node, "cron")) {
      if (auto parsed = CronSchedule::Parse(*cron); parsed.ok()) d->schedule.cron = *cron;
      else r_.Error(node["cron"], parsed.status().message());
    }
    if (auto window = r_.String(node, "max_duration")) {
      auto seconds = ParseWindow(*window);
      if (seconds) d->schedule.max_duration_seconds = *seconds;
      else r_.Error(node["max_duration"], fmt::format("max_duration '{}': expected a number of hours, minutes or "
                                                      "seconds (2h, 90m, 3600s)", *window));
    }
    d->schedule.catch_up = r_.Bool(node, "catch_up").value_or(true);
  }

  static std::optional<int64_t> ParseWindow(const std::string& text) {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || n <= 0 || end + 1 != text.data() + text.size()) return std::nullopt;
    switch (*end) {
      case 'h': return n * 3600;
      case 'm': return n * 60;
      case 's': return n;
      default: return std::nullopt;
    }
  }

  void ReadDeploymentFacts(const YAML::Node& facts, Deployment* d) {
    if (!facts.IsMap()) {
      r_.Error(facts, "'deployment_facts' must map fact names to values");
      return;
    }
    for (const auto& f : facts) {
      std::string name = f.first.Scalar();
      const FactDefinition* def = policies_.vocabulary.Find(name);
      if (!def) { r_.Error(f.first, fmt::format("unknown fact '{}'", name)); continue; }
      if (def->scope != FactScope::kDeployment)
        r_.Error(f.first, fmt::format("'{}' is a per-record fact, not a deployment-wide one: map it in a binding", name));
      auto v = ParseFactValue(policies_.vocabulary, name, f.second.Scalar());
      if (!v.ok()) r_.Error(f.second, v.status().message());
      else d->deployment_facts[name] = *v;
    }
  }

  void ReadStore(const std::string& name, const YAML::Node& node, Deployment* d) {
    if (node.IsMap() && node["password"]) {
      r_.Error(node["password"], "never put a password in the configuration: give the connection string in "
                                 "an environment variable (dsn_env) or an owner-only file (dsn_file)");
    }
    StoreConfig s;
    s.name = name;
    s.file = r_.file();
    s.line = node.Mark().line + 1;
    s.base_dir = base_;
    bool builtin = false;
    if (node.IsMap() && node["type"] && node["type"].IsScalar()) {
      s.type = node["type"].Scalar();
      builtin = s.type == "sqlite" || s.type == "postgres" || s.type == "files";
      if (!builtin && !(registry_ && registry_->Has(s.type))) {
        std::string known = "sqlite, postgres or files";
        if (registry_) {
          known.clear();
          for (const auto& t : registry_->Types()) known += (known.empty() ? "" : ", ") + t;
        }
        r_.Error(node["type"], fmt::format("unknown store type '{}' (expected {})", s.type, known));
        return;
      }
      if (builtin && registry_ && !registry_->Has(s.type)) {
        r_.Error(node["type"], fmt::format("store type '{}' is not available in this program (its connector is "
                                           "not registered, or was built without it)", s.type));
        return;
      }
    }
    if (!builtin) return ReadCustomStore(node, std::move(s), d);
    if (!r_.CheckMap(node, "a store", {"type", "path", "directory", "dsn_env", "dsn_file", "password"}, {"type"})) return;
    s.path = Resolve(r_.String(node, "path").value_or(""));
    s.directory = Resolve(r_.String(node, "directory").value_or(""));
    s.dsn_env = r_.String(node, "dsn_env").value_or("");
    s.dsn_file = Resolve(r_.String(node, "dsn_file").value_or(""));
    if (s.type == "sqlite" && s.path.empty()) r_.Error(node, "a sqlite store needs 'path' (the database file)");
    if (s.type == "files" && s.directory.empty()) r_.Error(node, "a files store needs 'directory'");
    if (s.type == "postgres" && s.dsn_env.empty() == s.dsn_file.empty())
      r_.Error(node, "a postgres store needs one of 'dsn_env' (an environment variable) or 'dsn_file'");
    d->stores.push_back(std::move(s));
  }

  // A registered custom type: its settings are scalars, handed to its connector as they
  // are (StoreConfig::options); the connector checks them when it opens.
  void ReadCustomStore(const YAML::Node& node, StoreConfig s, Deployment* d) {
    if (!node.IsMap() || !node["type"]) {
      r_.Error(node, "a store is a map with at least 'type'");
      return;
    }
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      if (key == "type" || key == "password") continue;
      if (!kv.second.IsScalar()) {
        r_.Error(kv.second, fmt::format("store setting '{}' must be a single value", key));
        continue;
      }
      s.options[key] = kv.second.Scalar();
    }
    d->stores.push_back(std::move(s));
  }

  void Identifier(const YAML::Node& node, const std::string& value, const char* what, bool schema = false) {
    if (!IsValidIdentifier(value, schema))
      r_.Error(node, fmt::format("{} '{}' is not a valid SQL identifier (letters, digits and _, not starting with a "
                                 "digit{}): refused", what, value, schema ? ", optionally schema.name" : ""));
  }

  void ReadFact(const std::string& name, const YAML::Node& node, const Deployment& d, const StoreConfig* store,
                Binding* b) {
    FactSource src;
    bool files = store && store->type == "files";
    if (node.IsScalar()) {
      src.column = node.Scalar();
      if (!files) Identifier(node, src.column, "column");
    } else if (r_.CheckMap(node, "a fact source", {"column", "sql", "mtime", "filename"}, {})) {
      if (node["sql"]) {
        src.kind = FactSource::Kind::kSql;
        src.sql = r_.String(node, "sql").value_or("");
        if (src.sql.find(';') != std::string::npos)
          r_.Error(node["sql"], "an SQL fact is one expression: ';' is refused");
      } else if (node["mtime"]) {
        src.kind = FactSource::Kind::kMtime;
      } else if (node["filename"]) {
        src.kind = FactSource::Kind::kFileName;
        src.pattern = r_.String(node, "filename").value_or("");
        try {
          std::regex check(src.pattern);
          const FactDefinition* def = policies_.vocabulary.Find(name);
          if (def && def->type == FactType::kDate && check.mark_count() < 1)
            r_.Error(node["filename"], "the filename pattern needs a group capturing the date (YYYYMMDD or YYYY-MM-DD)");
        } catch (const std::regex_error& e) {
          r_.Error(node["filename"], fmt::format("invalid filename pattern: {}", e.what()));
        }
      } else if (node["column"]) {
        src.column = r_.String(node, "column").value_or("");
        Identifier(node["column"], src.column, "column");
      } else {
        r_.Error(node, "a fact source is a column name, {sql: ...}, {mtime: true} or {filename: PATTERN}");
      }
    }
    if (files && (src.kind == FactSource::Kind::kColumn || src.kind == FactSource::Kind::kSql))
      r_.Error(node, "a files store gives facts from {mtime: true} or {filename: PATTERN}");
    if (!files && (src.kind == FactSource::Kind::kMtime || src.kind == FactSource::Kind::kFileName))
      r_.Error(node, "mtime and filename facts are for files stores");
    (void)d;
    b->facts[name] = std::move(src);
  }

  void ReadBinding(const YAML::Node& node, Deployment* d) {
    if (!r_.CheckMap(node, "a binding", {"name", "rule", "store", "table", "key", "subject", "facts", "assume",
                                         "archive", "pseudonymise", "batch_size", "guard", "glob"},
                     {"rule", "store"}))
      return;
    Binding b;
    b.file = r_.file();
    b.line = node.Mark().line + 1;
    b.rule_id = r_.String(node, "rule").value_or("");
    b.rule = policies_.FindRule(b.rule_id);
    if (!b.rule) r_.Error(node["rule"], fmt::format("unknown rule '{}' (no policy rule or catalog id)", b.rule_id));
    b.name = r_.String(node, "name").value_or(b.rule ? b.rule->id : b.rule_id);
    if (d->FindBinding(b.name)) r_.Error(node, fmt::format("duplicate binding name '{}': give each a 'name'", b.name));
    if (b.name.find('@') != std::string::npos)
      r_.Error(node["name"] ? node["name"] : node, fmt::format("binding name '{}' contains '@' (kept for archive views)", b.name));
    b.store = r_.String(node, "store").value_or("");
    const StoreConfig* store = d->FindStore(b.store);
    if (!store) r_.Error(node["store"], fmt::format("unknown store '{}'", b.store));
    bool files = store && store->type == "files";
    b.table = r_.String(node, "table").value_or("");
    b.key = r_.String(node, "key").value_or(files ? "path" : "");
    b.subject = r_.String(node, "subject").value_or("");
    b.glob = r_.String(node, "glob").value_or("*");
    if (!files) {
      if (!node["table"]) r_.Error(node, "a binding to an SQL store needs 'table'");
      else Identifier(node["table"], b.table, "table", true);
      if (!node["key"]) r_.Error(node, "a binding to an SQL store needs 'key' (the primary key column)");
      else Identifier(node["key"], b.key, "key column");
      if (node["subject"]) Identifier(node["subject"], b.subject, "subject column");
    }
    b.batch_size = r_.Int(node, "batch_size").value_or(5000);
    // A batch's keys are SQL parameters, two per key for an SQLite key column without a
    // type (matched as integer and as text): SQLite takes at most 32766 in one statement.
    if (b.batch_size < 1 || b.batch_size > 15000)
      r_.Error(node["batch_size"], "batch_size must be 1..15000 (a batch's keys are parameters of one SQL statement)");
    if (YAML::Node g = node["guard"]; g && r_.CheckMap(g, "guard", {"max_rows", "max_fraction"}, {})) {
      b.guard.max_rows = r_.Int(g, "max_rows").value_or(static_cast<int>(b.guard.max_rows));
      if (b.guard.max_rows < 0) r_.Error(g["max_rows"], "max_rows must be 0 or more");
      if (g["max_fraction"]) {
        double f = -1;
        // Written so that NaN (.nan) fails too: it compares false with everything.
        if (!YAML::convert<double>::decode(g["max_fraction"], f) || !(f >= 0 && f <= 1))
          r_.Error(g["max_fraction"], "max_fraction must be a number between 0 and 1");
        else b.guard.max_fraction = f;
      }
    }
    if (YAML::Node facts = node["facts"]; facts) {
      if (!facts.IsMap()) r_.Error(facts, "'facts' maps fact names to columns or sources");
      else
        for (const auto& f : facts) {
          std::string name = f.first.Scalar();
          const FactDefinition* def = policies_.vocabulary.Find(name);
          if (!def) r_.Error(f.first, fmt::format("unknown fact '{}'", name));
          else if (def->scope == FactScope::kDeployment)
            r_.Error(f.first, fmt::format("'{}' is deployment-wide: set it under deployment_facts", name));
          else if (b.rule && std::find(b.rule->facts.begin(), b.rule->facts.end(), name) == b.rule->facts.end())
            r_.Warning(f.first, fmt::format("rule {} does not read fact '{}'", b.rule->id, name));
          ReadFact(name, f.second, *d, store, &b);
        }
    }
    if (YAML::Node a = node["assume"]; a) ReadAssumptions(a, &b);
    if (b.rule) CheckRule(node, &b);
    if (YAML::Node a = node["archive"]; a && r_.CheckMap(a, "archive", {"store", "table"}, {"store"})) {
      ArchiveSettings s{r_.String(a, "store").value_or(""), r_.String(a, "table").value_or("")};
      const StoreConfig* target = d->FindStore(s.store);
      if (!target) r_.Error(a["store"], fmt::format("unknown archive store '{}'", s.store));
      else if (store && (target->type == "files") != files)
        r_.Error(a["store"], "the archive store must be of the same family (files with files, SQL with SQL)");
      if (!files) {
        if (s.table.empty()) r_.Error(a, "an SQL archive needs 'table'");
        else Identifier(a["table"], s.table, "archive table", true);
        if (target && target->name == b.store && s.table == b.table)
          r_.Error(a, "the archive table must differ from the source table");
      }
      b.archive = s;
    }
    if (YAML::Node p = node["pseudonymise"]; p) ReadPseudonymise(p, store, &b);
    bool needs_archive = b.rule && std::count(b.rule->phases.begin(), b.rule->phases.end(), Phase::kArchive);
    bool needs_pseudo = b.rule && std::count(b.rule->phases.begin(), b.rule->phases.end(), Phase::kPseudonymise);
    if (needs_archive && !b.archive)
      r_.Error(node, fmt::format("rule {} archives: the binding needs 'archive: {{store, table}}'", b.rule->id));
    if (needs_pseudo && !b.pseudonymise)
      r_.Error(node, fmt::format("rule {} pseudonymises: the binding needs 'pseudonymise: {{columns, marker, key_file}}'",
                                 b.rule->id));
    d->bindings.push_back(std::move(b));
  }

  void ReadPseudonymise(const YAML::Node& p, const StoreConfig* store, Binding* b) {
    if (!r_.CheckMap(p, "pseudonymise", {"columns", "nullify", "marker", "key_file", "key_env"}, {"columns", "marker"})) return;
    if (store && store->type == "files") r_.Error(p, "files cannot be pseudonymised");
    PseudonymiseSettings s;
    s.columns = r_.StringList(p, "columns").value_or(std::vector<std::string>{});
    s.null_columns = r_.StringList(p, "nullify").value_or(std::vector<std::string>{});
    s.marker_column = r_.String(p, "marker").value_or("");
    s.key_file = Resolve(r_.String(p, "key_file").value_or(""));
    s.key_env = r_.String(p, "key_env").value_or("");
    if (s.key_file.empty() == s.key_env.empty()) r_.Error(p, "pseudonymise needs one of 'key_file' or 'key_env'");
    for (size_t i = 0; i < s.columns.size(); ++i) Identifier(p["columns"][i], s.columns[i], "column");
    for (size_t i = 0; i < s.null_columns.size(); ++i) Identifier(p["nullify"][i], s.null_columns[i], "column");
    Identifier(p["marker"], s.marker_column, "marker column");
    b->pseudonymise = std::move(s);
  }

  // `assume: {fact: value}`: what this deployment states for facts its store does not record.
  void ReadAssumptions(const YAML::Node& node, Binding* b) {
    if (!node.IsMap()) {
      r_.Error(node, "'assume' maps fact names to the value this deployment states for them, e.g. {contentieux: false}");
      return;
    }
    for (const auto& f : node) {
      std::string name = f.first.Scalar();
      const FactDefinition* def = policies_.vocabulary.Find(name);
      if (!def) { r_.Error(f.first, fmt::format("unknown fact '{}'", name)); continue; }
      if (def->type == FactType::kDate || def->scope == FactScope::kDeployment) {
        r_.Error(f.first, fmt::format("'{}' is a {}: only flags and enumerations can be assumed (a date is never "
                                      "guessed)", name, def->scope == FactScope::kDeployment ? "deployment-wide fact" : "date"));
        continue;
      }
      if (b->rule && std::find(b->rule->facts.begin(), b->rule->facts.end(), name) == b->rule->facts.end())
        r_.Warning(f.first, fmt::format("rule {} does not read fact '{}'", b->rule->id, name));
      if (!f.second.IsScalar()) { r_.Error(f.second, fmt::format("expected a value for '{}'", name)); continue; }
      auto v = ParseFactValue(policies_.vocabulary, name, f.second.Scalar());
      if (!v.ok()) r_.Error(f.second, v.status().message());
      else b->assume[name] = *v;
    }
  }

  // The rule's record facts must all be mapped, or (flags, enumerations) assumed.
  void CheckRule(const YAML::Node& node, Binding* b) {
    for (const auto& f : b->rule->facts) {
      const FactDefinition* def = policies_.vocabulary.Find(f);
      if (def && def->scope == FactScope::kDeployment) continue;
      if (b->facts.count(f) || b->assume.count(f)) continue;
      std::string hint = def && def->type != FactType::kDate
                             ? fmt::format(" (if the store does not record it, state it: assume: {{{}: ...}})", f)
                             : "";
      r_.Error(node, fmt::format("rule {} needs fact '{}', which binding '{}' does not map{}", b->rule->id, f, b->name, hint));
    }
  }

  // Archived records are evaluated in the archive store for their later phases.
  static void AddArchiveViews(Deployment* d) {
    std::vector<Binding> views;
    for (const auto& b : d->bindings) {
      if (!b.archive) continue;
      Binding v = b;
      v.name = b.name + kArchiveViewSuffix;
      v.store = b.archive->store;
      v.table = b.archive->table;
      v.archive.reset();
      v.archived_view = true;
      views.push_back(std::move(v));
    }
    for (auto& v : views) d->bindings.push_back(std::move(v));
  }

  YamlReader& r_;
  const PolicySet& policies_;
  std::string base_;
  const ConnectorRegistry* registry_ = nullptr;
};

}  // namespace

DeploymentLoad LoadDeploymentText(const std::string& text, const std::string& file_name, const std::string& base_dir,
                                  const PolicySet& policies, const ConnectorRegistry* registry) {
  DeploymentLoad out;
  out.deployment.path = file_name;
  out.deployment.hash = "sha256:" + internal::Sha256Hex(text);
  YamlReader reader(file_name, &out.diagnostics);
  if (auto root = reader.ParseText(text)) DeploymentReader(&reader, policies, base_dir, registry).Read(*root, &out.deployment);
  return out;
}

std::string BindingRecordsOf(const std::string& binding_name) {
  std::string_view suffix = kArchiveViewSuffix;
  if (binding_name.size() > suffix.size() && binding_name.compare(binding_name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return binding_name.substr(0, binding_name.size() - suffix.size());
  return binding_name;
}

std::string DeploymentPoliciesDir(const std::string& path) {
  auto text = internal::ReadFileText(path);  // a regular file only: a FIFO never hangs
  if (!text) return "";
  try {
    YAML::Node root = YAML::Load(*text);
    if (!root.IsMap() || !root["policies"] || !root["policies"].IsScalar()) return "";
    fs::path p = root["policies"].Scalar();
    return p.is_absolute() ? p.string() : (fs::absolute(path).parent_path() / p).lexically_normal().string();
  } catch (const YAML::Exception&) {
    return "";  // the full load reports the error with its location
  }
}

DeploymentLoad LoadDeployment(const std::string& path, const PolicySet& policies, const ConnectorRegistry* registry) {
  auto text = internal::ReadFileText(path);
  if (!text) {
    DeploymentLoad out;
    out.diagnostics.push_back({path, 0, 0, Diagnostic::Severity::kError, "cannot read the configuration file"});
    return out;
  }
  std::string base = fs::absolute(path).parent_path().string();
  return LoadDeploymentText(*text, path, base, policies, registry);
}

}  // namespace retention
