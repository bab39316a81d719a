#include "retention/secrets.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace retention {

Result<std::string> LoadKey(const std::string& file, const std::string& env) {
  std::string key;
  if (!file.empty()) {
    struct stat st {};
    if (stat(file.c_str(), &st) != 0) return Status::NotFound(fmt::format("key file {} does not exist", file));
    if (st.st_mode & 077)
      return Status::FailedPrecondition(
          fmt::format("key file {} is readable by others (mode {:o}): chmod 600 it", file, st.st_mode & 0777));
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    key = s.str();
  } else if (!env.empty()) {
    const char* v = std::getenv(env.c_str());
    if (!v) return Status::NotFound(fmt::format("environment variable {} is not set", env));
    key = v;
  } else {
    return Status::InvalidArgument("no key: give a key file or an environment variable");
  }
  auto begin = key.find_first_not_of(" \t\r\n");
  auto end = key.find_last_not_of(" \t\r\n");
  key = begin == std::string::npos ? "" : key.substr(begin, end - begin + 1);
  if (key.empty()) return Status::InvalidArgument("the key is empty");
  return key;
}

}  // namespace retention
