// Directory-descriptor primitives of the files store. Everything below a store's root
// is reached with openat/fstatat relative to an open directory, component by component,
// never following a symbolic link (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW): a directory swapped
// for a link during a run makes the operation fail instead of acting outside the store.
// Names are bytes (any encoding, newlines included); nothing here throws.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

#include "retention/status.h"

namespace retention::files {

// Owns a file descriptor; non-copyable, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Which file a name refers to: a name that now refers to another file is not acted on.
// An inode number is reused as soon as a file is deleted, so the size and the change
// and modification times are part of the identity: a file rewritten, renamed over or
// re-created since the scan is another file.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  struct timespec mtime = {}, ctime = {};
  bool operator==(const FileId& o) const {
    auto same = [](const timespec& a, const timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; };
    return SameInode(o) && size == o.size && same(mtime, o.mtime) && same(ctime, o.ctime);
  }
  // The same inode (a rename changes its ctime; nothing can reuse it while it is linked).
  bool SameInode(const FileId& o) const { return dev == o.dev && ino == o.ino; }
};
inline FileId IdOf(const struct stat& st) { return {st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim}; }

// The prefix of the store's own entries (trash, partial copies): never records.
inline constexpr std::string_view kReservedPrefix = ".retention-";

// A name or relative path made printable on one line: bytes below 0x21, 0x7f and '%'
// become %XX. Unescape reverses it (false on a malformed escape).
std::string Escape(std::string_view bytes);
bool Unescape(std::string_view text, std::string* bytes);

// Splits a relative path into its components; false for an absolute path, an empty
// component, "." or "..".
bool SplitRelative(std::string_view path, std::vector<std::string>* parts);

// "what failed: strerror(errno)" as an IoError (or NotFound for ENOENT/ENOTDIR).
Status Errno(const std::string& what, int err);

// Opens the directory `name` under `dir`, refusing a symbolic link (ELOOP/ENOTDIR).
Result<Fd> OpenDirAt(int dir, const std::string& name);
// Opens (creating them with mode 0700 when `create`) the directories `parts` under `dir`.
Result<Fd> OpenDirs(int dir, const std::vector<std::string>& parts, bool create);
// The names in a directory (without "." and ".."), sorted; an unreadable one is an error.
Result<std::vector<std::string>> ListDir(int dir);
// fstatat without following a link; false (errno set) when it fails.
bool StatAt(int dir, const std::string& name, struct stat* st);
// Moves `from` (under `from_dir`) to `to` (under `to_dir`), never replacing an existing entry.
int RenameNoReplace(int from_dir, const std::string& from, int to_dir, const std::string& to);
// Writes all of `data` to `fd`.
bool WriteAll(int fd, std::string_view data);

}  // namespace retention::files
