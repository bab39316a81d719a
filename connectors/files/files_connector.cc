#include "files/files_connector.h"

#include <fnmatch.h>

#include <filesystem>
#include <regex>
#include <system_error>

#include <fmt/format.h>

#include "retention/clock.h"

namespace retention {
namespace fs = std::filesystem;
namespace {

class FilesConnector : public Connector {
 public:
  explicit FilesConnector(StoreConfig config) : config_(std::move(config)) {}

  const StoreConfig& config() const override { return config_; }
  fs::path Root(const std::string& sub) const { return sub.empty() ? fs::path(config_.directory) : fs::path(config_.directory) / sub; }

  Result<std::vector<ColumnInfo>> Describe(const std::string& table) override {
    std::error_code ec;
    if (!fs::is_directory(Root(table), ec))
      return Status::NotFound(fmt::format("directory '{}' does not exist (store '{}')", Root(table).string(), config_.name));
    return std::vector<ColumnInfo>{{"path", "text", true}, {"mtime", "date", false}};
  }

  Result<int64_t> Count(const Binding& b) override {
    int64_t n = 0;
    Status s = Walk(b, [&](const fs::path&) { ++n; return true; });
    if (!s.ok()) return s;
    return n;
  }

  Status Scan(const ScanRequest& request, const std::function<bool(std::vector<RawRecord>&)>& sink) override {
    const Binding& b = *request.binding;
    ScanBatcher batcher(request.batch_size, sink);
    Status s = Walk(b, [&](const fs::path& p) { return batcher.Add(Read(b, request.facts, p)); });
    if (!s.ok()) return s;
    batcher.Flush();
    return Status::Ok();
  }

  Result<ApplyResult> Apply(const ApplyRequest& request) override {
    const Binding& b = *request.binding;
    ApplyResult result;
    FilesConnector* target = request.action == Phase::kArchive ? dynamic_cast<FilesConnector*>(request.archive_target) : nullptr;
    if (request.action == Phase::kArchive && !target)
      return Status::InvalidArgument(fmt::format("binding {}: files are archived into a files store", b.name));
    if (request.action == Phase::kPseudonymise) return Status::InvalidArgument("files cannot be pseudonymised");
    for (const auto& key : request.keys) {
      fs::path path = Root(b.table) / key;
      std::error_code ec;
      if (!Inside(path, Root(b.table)) || !fs::is_regular_file(path, ec)) {
        result.skipped.push_back(key);
        continue;
      }
      if (request.still_due && !request.still_due(Read(b, request.facts, path))) {
        result.skipped.push_back(key);
        continue;
      }
      Status s = request.action == Phase::kDelete ? Remove(path) : Move(path, target->Root(b.archive->table) / key);
      if (!s.ok()) return s;
      result.applied.push_back(key);
    }
    return result;
  }

  Result<ArchiveWrite> WriteArchive(const ArchiveRows&) override {
    return Status::InvalidArgument("a files store archives files, not rows");
  }

 private:
  Status Walk(const Binding& b, const std::function<bool(const fs::path&)>& visit) {
    fs::path root = Root(b.table);
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return Status::NotFound(fmt::format("directory '{}' does not exist", root.string()));
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) return Status::IoError(fmt::format("cannot list {}: {}", root.string(), ec.message()));
      if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
      if (fnmatch(b.glob.c_str(), it->path().filename().c_str(), 0) != 0) continue;
      if (!visit(it->path())) break;
    }
    return Status::Ok();
  }

  RawRecord Read(const Binding& b, const std::vector<std::string>& facts, const fs::path& path) const {
    RawRecord r;
    r.key = fs::relative(path, Root(b.table)).generic_string();
    for (const auto& name : facts) {
      const FactSource& src = b.facts.at(name);
      std::optional<std::string> value;
      if (src.kind == FactSource::Kind::kMtime) {
        std::error_code ec;
        auto t = fs::last_write_time(path, ec);
        if (!ec) {
          auto sys = std::chrono::file_clock::to_sys(t);
          value = DateInParis(std::chrono::system_clock::to_time_t(
                                  std::chrono::time_point_cast<std::chrono::system_clock::duration>(sys)))
                      .ToString();
        }
      } else if (src.kind == FactSource::Kind::kFileName) {
        std::smatch m;
        std::string rel = r.key;
        std::regex re(src.pattern);
        if (std::regex_search(rel, m, re)) value = DateText(m.size() > 1 ? m[1].str() : m[0].str());
      }
      r.facts.push_back(value);
    }
    return r;
  }

  // "20240131" or "2024-01-31" → "2024-01-31"; anything else is kept for a flag ("true").
  static std::string DateText(const std::string& s) {
    if (s.size() == 8 && std::all_of(s.begin(), s.end(), ::isdigit))
      return s.substr(0, 4) + "-" + s.substr(4, 2) + "-" + s.substr(6, 2);
    if (s.size() == 10) return s;
    return "true";
  }

  static bool Inside(const fs::path& p, const fs::path& root) {
    auto rel = p.lexically_normal().lexically_relative(root.lexically_normal());
    return !rel.empty() && *rel.begin() != "..";
  }

  static Status Remove(const fs::path& p) {
    std::error_code ec;
    fs::remove(p, ec);
    if (ec) return Status::IoError(fmt::format("cannot delete a file: {}", ec.message()));
    return Status::Ok();
  }

  // Idempotent: copy (or rename), then remove the source; a crash in between leaves
  // the copy, which the rerun recognises by its size and completes.
  static Status Move(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::create_directories(to.parent_path(), ec);
    if (ec) return Status::IoError(fmt::format("cannot create the archive directory: {}", ec.message()));
    if (fs::exists(to, ec) && fs::file_size(to, ec) == fs::file_size(from, ec)) return Remove(from);
    fs::rename(from, to, ec);
    if (!ec) return Status::Ok();
    fs::path tmp = to;
    tmp += ".partial";
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(tmp, to, ec);
    if (ec) return Status::IoError(fmt::format("cannot archive a file: {}", ec.message()));
    return Remove(from);
  }

  StoreConfig config_;
};

}  // namespace

Result<std::unique_ptr<Connector>> OpenFilesConnector(const StoreConfig& store) {
  std::error_code ec;
  if (!fs::is_directory(store.directory, ec)) fs::create_directories(store.directory, ec);
  if (ec) return Status::IoError(fmt::format("files store '{}': cannot create {}", store.name, store.directory));
  return std::unique_ptr<Connector>(std::make_unique<FilesConnector>(store));
}

}  // namespace retention
