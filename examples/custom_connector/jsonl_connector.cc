#include "jsonl_connector.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace example {
namespace {

using retention::Result;
using retention::Status;
using Json = nlohmann::json;

// One table: its records, in file order.
struct Table {
  std::vector<Json> rows;
};

std::optional<std::string> Text(const Json& row, const std::string& field) {
  auto it = row.find(field);
  if (it == row.end() || it->is_null()) return std::nullopt;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

class JsonLinesConnector : public retention::Connector {
 public:
  JsonLinesConnector(retention::StoreConfig config, std::filesystem::path dir)
      : config_(std::move(config)), dir_(std::move(dir)) {}

  const retention::StoreConfig& config() const override { return config_; }

  Result<std::vector<retention::ColumnInfo>> Describe(const std::string& table) override {
    auto t = Read(table);
    if (!t.ok()) return t.status();
    std::set<std::string> names;
    for (const auto& row : t->rows)
      for (const auto& [field, value] : row.items()) names.insert(field);
    std::vector<retention::ColumnInfo> columns;
    for (const auto& n : names) columns.push_back({n, "json", false});
    return columns;
  }

  Status CheckUniqueKey(const std::string& table, const std::string& column) override {
    auto t = Read(table);
    if (!t.ok()) return t.status();
    std::set<std::string> seen;
    for (const auto& row : t->rows) {
      auto key = Text(row, column);
      if (!key || !seen.insert(*key).second)
        return Status::FailedPrecondition("'" + column + "' is missing or repeated in " + table + ".jsonl");
    }
    return Status::Ok();
  }

  Result<int64_t> Count(const retention::Binding& binding) override {
    auto t = Read(binding.table);
    if (!t.ok()) return t.status();
    return static_cast<int64_t>(t->rows.size());
  }

  // No index: every record is a candidate (the engine evaluates each; ScanRequest::where
  // may be ignored, connector.h).
  Status Scan(const retention::ScanRequest& request,
              const std::function<bool(std::vector<retention::RawRecord>&)>& sink) override {
    auto t = Read(request.binding->table);
    if (!t.ok()) return t.status();
    retention::ScanBatcher batcher(request.batch_size, sink);
    for (const auto& row : t->rows)
      if (!batcher.Add(Record(*request.binding, request.facts, row))) return Status::Ok();
    batcher.Flush();
    return Status::Ok();
  }

  Result<retention::ApplyResult> Apply(const retention::ApplyRequest& request) override {
    if (request.action != retention::Phase::kDelete)
      return Status::InvalidArgument("the jsonl store only deletes (no archive, no pseudonymisation)");
    const retention::Binding& b = *request.binding;
    auto t = Read(b.table);
    if (!t.ok()) return t.status();
    std::set<std::string> wanted(request.keys.begin(), request.keys.end());
    retention::ApplyResult result;
    std::vector<Json> kept;
    for (auto& row : t->rows) {
      auto key = Text(row, b.key);
      bool due = key && wanted.count(*key) && request.still_due(Record(b, request.facts, row));
      if (due) result.applied.push_back(*key);
      else kept.push_back(std::move(row));
    }
    for (const auto& k : request.keys)
      if (std::find(result.applied.begin(), result.applied.end(), k) == result.applied.end())
        result.skipped.push_back(k);
    if (Status s = Write(b.table, kept); !s.ok()) return s;
    return result;
  }

  Result<retention::ArchiveWrite> WriteArchive(const retention::ArchiveRows&) override {
    return Status::InvalidArgument("the jsonl store cannot hold an archive");
  }

 private:
  retention::RawRecord Record(const retention::Binding& b, const std::vector<std::string>& facts, const Json& row) {
    retention::RawRecord r;
    r.key = Text(row, b.key).value_or("");
    if (!b.subject.empty()) r.subject = Text(row, b.subject).value_or("");
    for (const auto& f : facts) r.facts.push_back(Text(row, b.facts.at(f).column));
    return r;
  }

  std::filesystem::path PathOf(const std::string& table) const { return dir_ / (table + ".jsonl"); }

  Result<Table> Read(const std::string& table) {
    // O_NOFOLLOW: a symlink planted in the store is never followed.
    int fd = ::open(PathOf(table).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Status::NotFound("cannot open " + PathOf(table).string());
    std::string text;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    ::close(fd);
    Table t;
    std::istringstream lines(text);
    int number = 0;
    for (std::string line; std::getline(lines, line);) {
      ++number;
      if (line.empty()) continue;
      Json row = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!row.is_object())
        return Status::InvalidArgument(PathOf(table).string() + ":" + std::to_string(number) + ": not a JSON object");
      t.rows.push_back(std::move(row));
    }
    return t;
  }

  // Writes the kept records to a temporary file, syncs it, then renames it over the
  // table: a crash leaves the old file or the new one, never half of one.
  Status Write(const std::string& table, const std::vector<Json>& rows) {
    std::filesystem::path tmp = PathOf(table).string() + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IoError("cannot write " + tmp.string());
    std::string text;
    for (const auto& row : rows) text += row.dump() + "\n";
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), PathOf(table).c_str()) != 0) return Status::IoError("cannot replace " + table);
    return Status::Ok();
  }

  retention::StoreConfig config_;
  std::filesystem::path dir_;
};

Result<std::unique_ptr<retention::Connector>> Open(const retention::StoreConfig& store) {
  auto it = store.options.find("directory");
  if (it == store.options.end() || it->second.empty())
    return Status::InvalidArgument("store '" + store.name + "': a jsonl store needs 'directory'");
  for (const auto& [name, value] : store.options)
    if (name != "directory") return Status::InvalidArgument("store '" + store.name + "': unknown setting '" + name + "'");
  std::filesystem::path dir = it->second;
  if (dir.is_relative()) dir = std::filesystem::path(store.base_dir) / dir;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return Status::Unavailable("store '" + store.name + "': " + dir.string() + " is not a directory");
  return std::unique_ptr<retention::Connector>(new JsonLinesConnector(store, dir));
}

}  // namespace

void RegisterJsonLinesConnector(retention::ConnectorRegistry& registry) { registry.Register("jsonl", Open); }

}  // namespace example
