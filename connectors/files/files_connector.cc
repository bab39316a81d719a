#include "files/files_connector.h"

#include "retention/connectors.h"

#include <fcntl.h>
#include <fnmatch.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>
#include <system_error>
#include <unordered_map>

#include <fmt/format.h>

#include "files/archive_copy.h"
#include "files/dir.h"
#include "files/trash.h"
#include "retention/clock.h"

namespace retention {
namespace fs = std::filesystem;
namespace {
using files::Escape;
using files::Fd;
using files::FileId;

class FilesConnector : public Connector {
 public:
  FilesConnector(StoreConfig config, Fd root) : config_(std::move(config)), root_(std::move(root)), trash_(root_.get()) {}

  const StoreConfig& config() const override { return config_; }
  int root() const { return root_.get(); }

  Result<std::vector<ColumnInfo>> Describe(const std::string& table) override {
    auto dir = OpenTable(table);
    if (!dir.ok()) return dir.status();
    return std::vector<ColumnInfo>{{"path", "text", true}, {"mtime", "date", false}};
  }

  Result<int64_t> Count(const Binding& b) override {
    int64_t n = 0;
    Status s = Walk(b, [&](const std::string&, const struct stat&) { ++n; return true; });
    if (!s.ok()) return s;
    return n;
  }

  // Records each file's identity: Apply acts only on the very file evaluated here.
  Status Scan(const ScanRequest& request, const std::function<bool(std::vector<RawRecord>&)>& sink) override {
    const Binding& b = *request.binding;
    auto& ids = scanned_[b.name];
    ids.clear();
    ScanBatcher batcher(request.batch_size, sink);
    Status s = Walk(b, [&](const std::string& key, const struct stat& st) {
      ids[key] = files::IdOf(st);
      return batcher.Add(Read(b, request.facts, key, st));
    });
    if (!s.ok()) return s;
    batcher.Flush();
    return Status::Ok();
  }

  Result<ApplyResult> Apply(const ApplyRequest& request) override {
    const Binding& b = *request.binding;
    auto* target = request.action == Phase::kArchive ? dynamic_cast<FilesConnector*>(request.archive_target) : nullptr;
    if (request.action == Phase::kArchive && (!target || !b.archive))
      return Status::InvalidArgument(fmt::format("binding {}: files are archived into a files store", b.name));
    if (request.action != Phase::kArchive && request.action != Phase::kDelete)
      return Status::InvalidArgument("files cannot be pseudonymised");
    ApplyResult result;
    Batch batch{request, target, {}, {}};
    for (const auto& key : request.keys) {
      Outcome o = Prepare(batch, key);
      if (o.skipped) result.skipped.push_back(key);
      else if (!o.failure.empty()) result.failed.push_back({key, o.failure});
    }
    if (batch.moves.empty()) return result;
    const std::string owner = request.key_digest ? request.key_digest(kJournalOwner) : std::string();
    auto staged = trash_.Stage(request.run_id, owner, b.name, request.action, batch.moves, &result.applied,
                               &result.failed);
    if (!staged.ok()) return staged.status();  // nothing was moved
    result.staged = *staged;
    return result;
  }

  Status Confirm(const std::string& staged) override { return trash_.Confirm(staged); }
  Result<std::vector<StagedBatch>> Recover() override { return trash_.Recover(); }

  Result<ArchiveWrite> WriteArchive(const ArchiveRows&) override {
    return Status::InvalidArgument("a files store archives files, not rows");
  }

 private:
  using Visit = std::function<bool(const std::string& key, const struct stat&)>;

  struct Batch {
    const ApplyRequest& request;
    FilesConnector* target;
    std::map<std::string, Fd> dirs;  // open parent directories, by key prefix
    std::vector<files::TrashMove> moves;
  };
  struct Outcome {
    bool skipped = false;
    std::string failure;
  };

  Result<Fd> OpenTable(const std::string& table) const {
    std::vector<std::string> parts;
    if (!table.empty() && !files::SplitRelative(table, &parts))
      return Status::InvalidArgument(fmt::format("'{}' is not a relative directory (store '{}')", Escape(table), config_.name));
    auto dir = files::OpenDirs(root_.get(), parts, false);
    if (!dir.ok() && dir.status().code() == Status::Code::kNotFound)
      return Status::NotFound(fmt::format("directory '{}' does not exist (store '{}')",
                                          Escape((fs::path(config_.directory) / table).string()), config_.name));
    if (!dir.ok()) return Status::IoError(fmt::format("store '{}': {}", config_.name, dir.status().message()));
    return dir;
  }

  // Every regular file matching the glob under the binding's directory, depth first in
  // name order (a directory's files first), through directory descriptors. A symbolic link or a directory that
  // cannot be read stops the walk with an error: the store is not what it seems.
  Status Walk(const Binding& b, const Visit& visit) const {
    auto top = OpenTable(b.table);
    if (!top.ok()) return top.status();
    std::vector<std::pair<Fd, std::string>> stack;
    stack.emplace_back(std::move(*top), "");
    while (!stack.empty()) {
      auto [dir, prefix] = std::move(stack.back());
      stack.pop_back();
      auto names = files::ListDir(dir.get());
      if (!names.ok()) return Unreadable(prefix, names.status());
      std::vector<std::pair<Fd, std::string>> subdirs;
      for (const auto& name : *names) {
        if (name.rfind(files::kReservedPrefix, 0) == 0) continue;  // the store's own trash and partial copies
        std::string key = prefix + name;
        struct stat st;
        if (!files::StatAt(dir.get(), name, &st)) {
          if (errno == ENOENT) continue;  // gone since listed
          return Unreadable(key, files::Errno("cannot stat", errno));
        }
        if (S_ISLNK(st.st_mode))
          return Status::IoError(fmt::format(  // exit 1, as any store that cannot be read safely
              "store '{}': '{}' is a symbolic link; the files store never follows one (move it out of the store)",
              config_.name, Escape(key)));
        if (S_ISDIR(st.st_mode)) {
          auto sub = files::OpenDirAt(dir.get(), name);
          if (!sub.ok()) return Unreadable(key, sub.status());
          subdirs.emplace_back(std::move(*sub), key + "/");
          continue;
        }
        if (!S_ISREG(st.st_mode) || fnmatch(b.glob.c_str(), name.c_str(), 0) != 0) continue;
        if (!visit(key, st)) return Status::Ok();
      }
      for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack.push_back(std::move(*it));  // name order
    }
    return Status::Ok();
  }

  Status Unreadable(const std::string& dir, const Status& why) const {
    return Status::IoError(fmt::format("store '{}': cannot read directory '{}' ({}); its files cannot be planned",
                                       config_.name, Escape(dir.empty() ? "." : dir), why.message()));
  }

  RawRecord Read(const Binding& b, const std::vector<std::string>& facts, const std::string& key,
                 const struct stat& st) const {
    RawRecord r;
    r.key = key;
    for (const auto& name : facts) {
      const FactSource& src = b.facts.at(name);
      std::optional<std::string> value;
      if (src.kind == FactSource::Kind::kMtime) {
        value = DateInParis(st.st_mtim.tv_sec).ToString();
      } else if (src.kind == FactSource::Kind::kFileName) {
        value = MatchName(Pattern(src.pattern), key);
      }
      r.facts.push_back(value);
    }
    return r;
  }

  // A filename pattern compiled once per connector (the configuration loader checked
  // it), not once per file; nullptr when it does not compile here.
  const std::regex* Pattern(const std::string& pattern) const {
    auto it = patterns_.find(pattern);
    if (it == patterns_.end()) {
      std::optional<std::regex> re;
      try {
        re.emplace(pattern);
      } catch (const std::exception&) {
      }
      it = patterns_.emplace(pattern, std::move(re)).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  // The date (or flag) a pattern finds in a path. A pattern without a group is a flag:
  // the name says yes or no, both known. A date pattern that does not match: unknown.
  static std::optional<std::string> MatchName(const std::regex* re, const std::string& key) {
    if (!re) return std::nullopt;
    try {
      std::smatch m;
      bool found = std::regex_search(key, m, *re);
      if (re->mark_count() == 0) return std::string(found ? "true" : "false");
      if (found) return DateText(m[1].str());
    } catch (const std::exception&) {  // a regex too complex for this name: unknown, not a crash
    }
    return std::nullopt;
  }

  // "20240131" or "2024-01-31" → "2024-01-31"; anything else is kept for a flag ("true").
  static std::string DateText(const std::string& s) {
    if (s.size() == 8 && std::all_of(s.begin(), s.end(), ::isdigit))
      return s.substr(0, 4) + "-" + s.substr(4, 2) + "-" + s.substr(6, 2);
    if (s.size() == 10) return s;
    return "true";
  }

  // The parent directory of a key, opened once per batch without following links.
  Result<int> ParentOf(Batch& batch, const std::vector<std::string>& parts) const {
    std::string prefix;
    for (const auto& p : parts) prefix += p + "/";
    if (auto it = batch.dirs.find(prefix); it != batch.dirs.end()) return it->second.get();
    std::vector<std::string> path;
    const std::string& table = batch.request.binding->table;
    if (!table.empty() && !files::SplitRelative(table, &path)) return Status::InvalidArgument("bad directory");
    path.insert(path.end(), parts.begin(), parts.end());
    auto dir = files::OpenDirs(root_.get(), path, false);
    if (!dir.ok()) return dir.status();
    return batch.dirs.emplace(prefix, std::move(*dir)).first->second.get();
  }

  // Checks one key as it is now (the file scanned, still due) and, to archive, copies
  // it; on success the key joins the batch's moves to the trash.
  Outcome Prepare(Batch& batch, const std::string& key) {
    const ApplyRequest& request = batch.request;
    const auto& ids = scanned_[request.binding->name];
    auto known = ids.find(key);
    std::vector<std::string> parts;
    if (known == ids.end() || !files::SplitRelative(key, &parts)) return {true, ""};  // not a file this run scanned
    std::string name = parts.back();
    parts.pop_back();
    auto dir = ParentOf(batch, parts);
    if (!dir.ok())
      return dir.status().code() == Status::Code::kNotFound
                 ? Outcome{true, ""}
                 : Outcome{false, "its directory is now a symbolic link or cannot be opened; nothing done"};
    Fd file(::openat(*dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!file.valid()) {
      if (errno == ENOENT) return {true, ""};
      return {false, errno == ELOOP ? "it is now a symbolic link; nothing done"
                                    : fmt::format("cannot open the file: {}", std::strerror(errno))};
    }
    struct stat st;
    if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode) || files::IdOf(st) != known->second)
      return {true, ""};  // another file under that name now: not the record evaluated
    if (request.still_due && !request.still_due(Read(*request.binding, request.facts, key, st))) return {true, ""};
    if (request.action == Phase::kArchive) {
      std::vector<std::string> dest;
      const std::string& table = request.binding->archive->table;
      if (!table.empty() && !files::SplitRelative(table, &dest)) return {false, "the archive directory is not relative"};
      dest.insert(dest.end(), parts.begin(), parts.end());
      auto copied = files::ArchiveCopy(file.get(), st, batch.target->root(), dest, name);
      if (!copied.ok()) return {false, "cannot archive the file: " + copied.status().message()};
    }
    batch.moves.push_back({key, *dir, name, files::IdOf(st)});
    return {};
  }

  StoreConfig config_;
  Fd root_;  // the store's root, opened once: every path below is resolved from it
  files::Trash trash_;
  std::map<std::string, std::unordered_map<std::string, FileId>> scanned_;  // binding → key → identity
  mutable std::map<std::string, std::optional<std::regex>> patterns_;  // one thread at a time (docs/library.md)
};

}  // namespace

Result<std::unique_ptr<Connector>> OpenFilesConnector(const StoreConfig& store) {
  std::error_code ec;
  if (!fs::is_directory(store.directory, ec)) fs::create_directories(store.directory, ec);
  if (ec) return Status::IoError(fmt::format("files store '{}': cannot create {}", store.name, store.directory));
  Fd root(::open(store.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return files::Errno(fmt::format("files store '{}': cannot open {}", store.name, store.directory), errno);
  return std::unique_ptr<Connector>(std::make_unique<FilesConnector>(store, std::move(root)));
}

void RegisterFilesConnector(ConnectorRegistry& registry) { registry.Register("files", OpenFilesConnector); }

}  // namespace retention
