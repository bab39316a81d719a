#include "files/trash.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <sstream>

#include <fmt/format.h>

namespace retention::files {
namespace {

constexpr char kJournal[] = "journal";
constexpr char kConfirmed[] = "journal.confirmed";
// The journal while it is written: renamed to `journal` once whole, before any move. A
// batch that holds only this file was interrupted before it moved anything.
constexpr char kPartial[] = "journal.partial";
constexpr char kHeader[] = "retention-trash 1";

// A run id as one directory name: escaped, '/' escaped too, never "." or "..".
std::string RunDirName(const std::string& run_id) {
  std::string out;
  for (char c : Escape(run_id)) out += c == '/' ? std::string("%2F") : std::string(1, c);
  if (out.empty() || out.front() == '.') out = "%2E" + out.substr(out.empty() ? 0 : 1);
  return out;
}

bool SplitId(const std::string& id, std::string* run, std::string* seq) {
  size_t slash = id.find('/');
  if (slash == std::string::npos) return false;
  *run = id.substr(0, slash);
  *seq = id.substr(slash + 1);
  auto ok = [](const std::string& s) { return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos; };
  return ok(*run) && ok(*seq);
}

std::string Journal(const std::string& run_id, const std::string& owner, const std::string& binding, Phase action,
                    const std::vector<TrashMove>& moves) {
  std::string text = fmt::format("{}\nrun {}\nbinding {}\naction {}\n", kHeader, Escape(run_id), Escape(binding),
                                 PhaseName(action));
  if (!owner.empty()) text += fmt::format("owner {}\n", Escape(owner));
  for (size_t i = 0; i < moves.size(); ++i) text += fmt::format("file {} {}\n", i, Escape(moves[i].key));
  return text;
}

// Creates the next free batch directory of the run; its name goes to `seq`.
Result<Fd> NewBatchDir(int run_dir, std::string* seq) {
  for (int n = 0; n < 1000000; ++n) {
    *seq = std::to_string(n);
    if (::mkdirat(run_dir, seq->c_str(), 0700) == 0) return OpenDirAt(run_dir, *seq);
    if (errno != EEXIST) return Errno("cannot create a trash batch directory", errno);
  }
  return Status::IoError("too many trash batch directories");
}

// Written whole under a temporary name, then renamed: a journal is complete or absent.
Status WriteJournal(int batch_dir, const std::string& text) {
  Fd fd(::openat(batch_dir, kPartial, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return Errno("cannot create the trash journal", errno);
  if (!WriteAll(fd.get(), text) || ::fsync(fd.get()) != 0) return Errno("cannot write the trash journal", errno);
  if (RenameNoReplace(batch_dir, kPartial, batch_dir, kJournal) != 0) return Errno("cannot name the trash journal", errno);
  if (::fsync(batch_dir) != 0) return Errno("cannot sync the trash directory", errno);
  return Status::Ok();
}

// Moves one file into the batch as `slot`; the name must still be the file scanned,
// and the trash entry must be it afterwards (else it is moved back).
std::optional<std::string> MoveOne(const TrashMove& m, int batch_dir, const std::string& slot) {
  struct stat st;
  if (!StatAt(m.dir, m.name, &st)) return fmt::format("cannot stat the file: {}", std::strerror(errno));
  if (!S_ISREG(st.st_mode) || IdOf(st) != m.id) return "the file changed since it was evaluated; not deleted";
  if (RenameNoReplace(m.dir, m.name, batch_dir, slot) != 0) {
    if (errno == EXDEV) return "the file is on another filesystem than the store's root; not deleted";
    return fmt::format("cannot move the file to the trash: {}", std::strerror(errno));
  }
  if (StatAt(batch_dir, slot, &st) && IdOf(st).SameInode(m.id)) return std::nullopt;
  if (RenameNoReplace(batch_dir, slot, m.dir, m.name) != 0)
    return "another file took the name during the move; it is left in the trash for inspection";
  return "another file took the name during the move; moved back";
}

Status RemoveEmptyDir(int parent, const std::string& name) {
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT || errno == ENOTEMPTY) return Status::Ok();
  return Errno("cannot remove a trash directory", errno);
}

}  // namespace

Result<std::string> Trash::Stage(const std::string& run_id, const std::string& owner, const std::string& binding,
                                 Phase action,
                                 const std::vector<TrashMove>& moves, std::vector<std::string>* moved,
                                 std::vector<ApplyFailure>* failed) {
  std::string run = RunDirName(run_id), seq;
  auto run_dir = OpenDirs(root_, {kTrashDir, run}, true);
  if (!run_dir.ok()) return run_dir.status();
  auto batch = NewBatchDir(run_dir->get(), &seq);
  if (!batch.ok()) return batch.status();
  Status s = WriteJournal(batch->get(), Journal(run_id, owner, binding, action, moves));
  if (!s.ok()) return s;
  for (size_t i = 0; i < moves.size(); ++i) {
    auto error = MoveOne(moves[i], batch->get(), std::to_string(i));
    if (error) failed->push_back({moves[i].key, *error});
    else moved->push_back(moves[i].key);
  }
  ::fsync(batch->get());  // best effort: the moves are done either way, and reported as done
  return run + "/" + seq;
}

Result<Fd> Trash::OpenBatch(const std::string& id) {
  std::string run, seq;
  if (!SplitId(id, &run, &seq)) return Status::InvalidArgument(fmt::format("'{}' is not a trash batch id", Escape(id)));
  return OpenDirs(root_, {kTrashDir, run, seq}, false);
}

Status Trash::Confirm(const std::string& id) {
  auto batch = OpenBatch(id);
  if (!batch.ok()) return batch.status().code() == Status::Code::kNotFound ? Status::Ok() : batch.status();
  if (::renameat(batch->get(), kJournal, batch->get(), kConfirmed) == 0) {
    if (::fsync(batch->get()) != 0) return Errno("cannot sync the trash directory", errno);
  } else if (errno != ENOENT) {
    return Errno("cannot mark a trash batch recorded", errno);
  }
  auto names = ListDir(batch->get());
  if (!names.ok()) return names.status();
  for (const auto& name : *names)
    if (name != kConfirmed && ::unlinkat(batch->get(), name.c_str(), 0) != 0 && errno != ENOENT)
      return Errno(fmt::format("cannot unlink trash entry {} of batch {}", Escape(name), Escape(id)), errno);
  if (::unlinkat(batch->get(), kConfirmed, 0) != 0 && errno != ENOENT) return Errno("cannot unlink a trash journal", errno);
  std::string run, seq;
  SplitId(id, &run, &seq);
  auto run_dir = OpenDirs(root_, {kTrashDir, run}, false);
  if (!run_dir.ok()) return run_dir.status();
  Status s = RemoveEmptyDir(run_dir->get(), seq);
  if (!s.ok()) return s;
  auto trash = OpenDirs(root_, {kTrashDir}, false);
  return trash.ok() ? RemoveEmptyDir(trash->get(), run) : trash.status();
}

// The batch's unconfirmed journal entries whose file is in the trash; nullopt when none.
Result<std::optional<StagedBatch>> Trash::ReadBatch(int batch_dir, const std::string& id) {
  Fd fd(::openat(batch_dir, kJournal, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return Errno(fmt::format("trash batch {}: cannot open its journal", Escape(id)), errno);
  std::string text;
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) != 0;) {
    if (n < 0) return Errno(fmt::format("trash batch {}: cannot read its journal", Escape(id)), errno);
    text.append(buffer, static_cast<size_t>(n));
  }
  std::istringstream in(text);
  std::string line, word, value;
  StagedBatch batch;
  batch.id = id;
  bool header = std::getline(in, line) && line == kHeader;
  for (int number = 2; header && std::getline(in, line); ++number) {
    std::istringstream fields(line);
    fields >> word >> value;
    std::string slot = value, raw;
    if (word == "file") fields >> value;
    if (!Unescape(value, &raw)) return Status::IoError(fmt::format("trash batch {}: journal line {} is malformed", Escape(id), number));
    struct stat st;
    if (word == "run") batch.run_id = raw;
    else if (word == "binding") batch.binding = raw;
    else if (word == "owner") batch.owner = raw;
    else if (word == "action") batch.action = raw == PhaseName(Phase::kArchive) ? Phase::kArchive : Phase::kDelete;
    else if (word == "file" && StatAt(batch_dir, slot, &st) && S_ISREG(st.st_mode)) batch.keys.push_back(raw);
  }
  if (!header) return Status::IoError(fmt::format("trash batch {}: the journal is not a trash journal", Escape(id)));
  if (batch.keys.empty()) return std::optional<StagedBatch>();
  return std::optional<StagedBatch>(std::move(batch));
}

Result<std::vector<StagedBatch>> Trash::Recover() {
  std::vector<StagedBatch> out;
  auto trash = OpenDirs(root_, {kTrashDir}, false);
  if (!trash.ok()) return trash.status().code() == Status::Code::kNotFound ? Result(out) : trash.status();
  auto runs = ListDir(trash->get());
  if (!runs.ok()) return runs.status();
  for (const auto& run : *runs) {
    auto run_dir = OpenDirAt(trash->get(), run);
    if (!run_dir.ok()) return run_dir.status();
    auto seqs = ListDir(run_dir->get());
    if (!seqs.ok()) return seqs.status();
    for (const auto& seq : *seqs) {
      std::string id = run + "/" + seq;
      auto batch_dir = OpenDirAt(run_dir->get(), seq);
      if (!batch_dir.ok()) return batch_dir.status();
      struct stat st;
      std::optional<StagedBatch> batch;
      if (StatAt(batch_dir->get(), kJournal, &st)) {
        auto read = ReadBatch(batch_dir->get(), id);
        if (!read.ok()) return read.status();
        batch = std::move(*read);
      } else if (!StatAt(batch_dir->get(), kConfirmed, &st)) {
        auto names = ListDir(batch_dir->get());
        if (!names.ok()) return names.status();
        bool only_partial = names->empty() || (names->size() == 1 && names->front() == kPartial);
        if (!only_partial)
          return Status::IoError(fmt::format("trash batch {} holds files but no journal; left for inspection", Escape(id)));
      }
      if (batch) out.push_back(std::move(*batch));
      else if (Status s = Confirm(id); !s.ok()) return s;
    }
    if (Status s = RemoveEmptyDir(trash->get(), run); !s.ok()) return s;
  }
  return out;
}

}  // namespace retention::files
