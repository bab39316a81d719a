#include "files/archive_copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "crypto/digest.h"
#include "files/dir.h"

namespace retention::files {
namespace {

const std::string kPartial = std::string(kReservedPrefix) + "partial";

// Reads `from` from its start, hashing it and writing it to `to` (unless -1).
Result<std::string> Pump(int from, int to) {
  internal::Sha256Stream hash;
  char buffer[1 << 16];
  for (off_t offset = 0;;) {
    ssize_t n = ::pread(from, buffer, sizeof buffer, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read the file", errno);
    if (n == 0) break;
    std::string_view piece(buffer, static_cast<size_t>(n));
    hash.Update(piece);
    if (to >= 0 && !WriteAll(to, piece)) return Errno("cannot write the archive copy", errno);
    offset += n;
  }
  return hash.HexDigest();
}

// The content hash of the regular file `name` in `dir`, without following a link.
Result<std::string> HashAt(int dir, const std::string& name) {
  Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return Errno("cannot open the archived file", errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return Status::IoError("the archive holds something other than a regular file under that name");
  return Pump(fd.get(), -1);
}

// Writes the owner-only partial copy in `dir`; its content hash.
Result<std::string> WritePartial(int source, const struct stat& st, int dir) {
  if (::unlinkat(dir, kPartial.c_str(), 0) != 0 && errno != ENOENT)  // left by a crash
    return Errno("cannot remove an earlier partial copy", errno);
  Fd out(::openat(dir, kPartial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return Errno("cannot create the archive copy", errno);
  auto hash = Pump(source, out.get());
  if (!hash.ok()) return hash;
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(out.get(), times) != 0 || ::fsync(out.get()) != 0) return Errno("cannot complete the archive copy", errno);
  return hash;
}

// Gives the partial copy (content `hash`) the name `name` in `to`, unless a file is
// there: the same content means already archived; other content is an error (nullopt).
Result<bool> Place(int dir, int to, const std::string& name, const std::string& hash) {
  if (RenameNoReplace(dir, kPartial, to, name) == 0) return true;
  if (errno != EEXIST) return Errno("cannot name the archive copy", errno);
  auto existing = HashAt(to, name);
  if (!existing.ok()) return existing.status();
  if (*existing != hash) return false;
  if (::unlinkat(dir, kPartial.c_str(), 0) != 0) return Errno("cannot remove the partial copy", errno);
  return true;
}

std::string Join(const std::vector<std::string>& dirs, const std::string& name) {
  std::string out;
  for (const auto& d : dirs) out += d + "/";
  return out + name;
}

}  // namespace

Result<std::string> ArchiveCopy(int source, const struct stat& st, int root, const std::vector<std::string>& dirs,
                                const std::string& name) {
  auto dir = OpenDirs(root, dirs, true);
  if (!dir.ok()) return dir.status();
  auto hash = WritePartial(source, st, dir->get());
  if (!hash.ok()) return hash.status();
  auto placed = Place(dir->get(), dir->get(), name, *hash);
  if (!placed.ok()) return placed.status();
  if (*placed) return Join(dirs, name);
  // A recycled name: the earlier file stays; this content goes beside it, under its hash.
  std::string version = "sha256-" + *hash;
  auto sub = OpenDirs(dir->get(), {version}, true);
  if (!sub.ok()) return sub.status();
  placed = Place(dir->get(), sub->get(), name, *hash);
  if (!placed.ok()) return placed.status();
  if (!*placed) return Status::IoError("the archive holds other content under the content's own hash");
  std::vector<std::string> where = dirs;
  where.push_back(version);
  return Join(where, name);
}

}  // namespace retention::files
