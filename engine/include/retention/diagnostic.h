// A located problem in a policy or configuration file.
#pragma once

#include <string>
#include <vector>

namespace retention {

struct Diagnostic {
  enum class Severity { kError, kWarning };

  std::string file;
  int line = 0;    // 1-based; 0 when the problem concerns the whole file
  int column = 0;  // 1-based
  Severity severity = Severity::kError;
  std::string message;

  // "file:line:column: error: message"
  std::string ToString() const;
};

using Diagnostics = std::vector<Diagnostic>;

bool HasErrors(const Diagnostics& diagnostics);

}  // namespace retention
