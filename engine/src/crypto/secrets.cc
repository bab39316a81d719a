#include "retention/secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace retention {
namespace {

std::string Trim(const std::string& s) {
  auto begin = s.find_first_not_of(" \t\r\n");
  auto end = s.find_last_not_of(" \t\r\n");
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}


// Closes the descriptor on every path out of ReadSecretFile.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

void WipeSecret(std::string* s) {
  volatile char* p = s->data();
  for (size_t i = 0; i < s->size(); ++i) p[i] = 0;
  s->clear();
}

Result<std::string> ReadSecretFile(const std::string& path) {
  // Non-blocking: a FIFO or a device must not hang the command; it is refused below.
  Fd file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
  if (file.fd < 0) {
    int e = errno;
    if (e == ENOENT) return Status::NotFound(fmt::format("{} does not exist", path));
    return Status::IoError(fmt::format("cannot open {}: {}", path, std::strerror(e)));
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0 || !S_ISREG(st.st_mode))
    return Status::FailedPrecondition(fmt::format("{} is not a regular file", path));
  if (st.st_mode & 077)
    return Status::FailedPrecondition(fmt::format(
        "{} is accessible to group or others (mode {:03o}): it must be owner-only (chmod 600)", path,
        st.st_mode & 0777));
  if (st.st_size > kMaxSecretBytes)
    return Status::FailedPrecondition(fmt::format("{} is larger than a secret can be ({} bytes)", path, kMaxSecretBytes));
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(file.fd, buffer, sizeof buffer)) > 0 && text.size() <= kMaxSecretBytes)
    text.append(buffer, static_cast<size_t>(n));
  int read_errno = errno;
  std::memset(buffer, 0, sizeof buffer);
  if (n < 0) {
    WipeSecret(&text);
    return Status::IoError(fmt::format("cannot read {}: {}", path, std::strerror(read_errno)));
  }
  std::string secret = Trim(text);
  WipeSecret(&text);
  if (secret.empty()) return Status::FailedPrecondition(fmt::format("{} is empty", path));
  return secret;
}

Status CreatePrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return Status::Ok();
  }
  if (errno == EEXIST) return Status::Ok();
  return Status::IoError(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
}

Result<std::string> LoadKey(const std::string& file, const std::string& env) {
  if (!file.empty()) {
    auto key = ReadSecretFile(file);
    if (!key.ok()) return Status(key.status().code() == Status::Code::kNotFound
                                     ? Status::NotFound("key file " + key.status().message())
                                     : Status::FailedPrecondition("key file " + key.status().message()));
    return key;
  }
  if (env.empty()) return Status::InvalidArgument("no key: give a key file or an environment variable");
  const char* v = std::getenv(env.c_str());
  if (!v) return Status::NotFound(fmt::format("environment variable {} is not set", env));
  std::string key = Trim(v);
  if (key.empty()) return Status::InvalidArgument("the key is empty");
  return key;
}

}  // namespace retention
