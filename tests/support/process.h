// Running a shell command (the `retention` executable) and capturing its output and exit code.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace retention::testing {

struct Process {
  int code;
  std::string out;
};

inline Process Shell(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// `retention ARGS`, stdout and stderr interleaved.
inline Process Retention(const std::string& args) { return Shell(std::string(RETENTION_CLI) + " " + args + " 2>&1"); }

}  // namespace retention::testing
