#include "files/dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace retention::files {

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

std::string Escape(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c <= 0x20 || c == 0x7f || c == '%') out += fmt::format("%{:02X}", c);
    else out += static_cast<char>(c);
  }
  return out;
}

bool Unescape(std::string_view text, std::string* bytes) {
  bytes->clear();
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      bytes->push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
    if (hi < 0 || lo < 0) return false;
    bytes->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool SplitRelative(std::string_view path, std::vector<std::string>* parts) {
  parts->clear();
  if (path.empty() || path.front() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    parts->emplace_back(part);
    start = end + 1;
  }
  return true;
}

Status Errno(const std::string& what, int err) {
  std::string m = fmt::format("{}: {}", what, std::strerror(err));
  return err == ENOENT || err == ENOTDIR ? Status::NotFound(m) : Status::IoError(m);
}

Result<Fd> OpenDirAt(int dir, const std::string& name) {
  Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    struct stat st;
    if (err == ELOOP || (err == ENOTDIR && StatAt(dir, name, &st) && S_ISLNK(st.st_mode))) return Status::IoError(fmt::format("'{}' is a symbolic link, not followed", Escape(name)));
    return Errno(fmt::format("cannot open directory '{}'", Escape(name)), err);
  }
  return fd;
}

Result<Fd> OpenDirs(int dir, const std::vector<std::string>& parts, bool create) {
  Fd current(::fcntl(dir, F_DUPFD_CLOEXEC, 0));
  if (!current.valid()) return Errno("cannot duplicate a directory descriptor", errno);
  for (const auto& part : parts) {
    if (create && ::mkdirat(current.get(), part.c_str(), 0700) != 0 && errno != EEXIST)
      return Errno(fmt::format("cannot create directory '{}'", Escape(part)), errno);
    auto next = OpenDirAt(current.get(), part);
    if (!next.ok()) return next.status();
    current = std::move(*next);
  }
  return current;
}

Result<std::vector<std::string>> ListDir(int dir) {
  int copy = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return Errno("cannot duplicate a directory descriptor", errno);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(copy), ::closedir);
  if (!d) {
    int err = errno;
    ::close(copy);
    return Errno("cannot read directory", err);
  }
  ::rewinddir(d.get());
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(d.get());
    if (!e) {
      if (errno != 0) return Errno("cannot read directory", errno);
      break;
    }
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool StatAt(int dir, const std::string& name, struct stat* st) {
  return ::fstatat(dir, name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0;
}

int RenameNoReplace(int from_dir, const std::string& from, int to_dir, const std::string& to) {
  return ::renameat2(from_dir, from.c_str(), to_dir, to.c_str(), RENAME_NOREPLACE);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace retention::files
