#include "yaml/yaml_reader.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace retention {

std::string Diagnostic::ToString() const {
  const char* level = severity == Severity::kError ? "error" : "warning";
  if (line == 0) return fmt::format("{}: {}: {}", file, level, message);
  return fmt::format("{}:{}:{}: {}: {}", file, line, column, level, message);
}

bool HasErrors(const Diagnostics& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::kError; });
}

namespace internal {

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return fmt::format("'{}'", node.Scalar());
    case YAML::NodeType::Null: return "nothing";
    default: return "an undefined node";
  }
}

std::optional<YAML::Node> YamlReader::ParseText(const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    diagnostics_->push_back({file_, e.mark.line + 1, e.mark.column + 1, Diagnostic::Severity::kError,
                             "invalid YAML: " + e.msg});
    return std::nullopt;
  }
}

std::optional<std::string> ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::optional<YAML::Node> YamlReader::ParseFile() {
  auto text = ReadFileText(file_);
  if (!text) {
    diagnostics_->push_back({file_, 0, 0, Diagnostic::Severity::kError, "cannot read the file"});
    return std::nullopt;
  }
  return ParseText(*text);
}

int YamlReader::TextColumn(const YAML::Node& node) {
  int column = node.Mark().column + 1;
  if (node.IsScalar() && node.Tag() == "!") ++column;  // a quoted scalar: skip the quote
  return column;
}

void YamlReader::Add(const YAML::Node& node, Diagnostic::Severity severity, const std::string& message,
                     size_t offset) {
  int line = node.Mark().line + 1;
  int column = (offset > 0 ? TextColumn(node) : node.Mark().column + 1) + static_cast<int>(offset);
  if (node.Mark().is_null()) line = column = 0;
  diagnostics_->push_back({file_, line, column, severity, message});
}

void YamlReader::Error(const YAML::Node& node, const std::string& message, size_t offset) {
  Add(node, Diagnostic::Severity::kError, message, offset);
}
void YamlReader::Warning(const YAML::Node& node, const std::string& message, size_t offset) {
  Add(node, Diagnostic::Severity::kWarning, message, offset);
}

bool YamlReader::CheckMap(const YAML::Node& node, const char* what, std::initializer_list<const char*> allowed,
                          std::initializer_list<const char*> required) {
  if (!node.IsMap()) {
    Error(node, fmt::format("{} must be a map, found {}", what, Describe(node)));
    return false;
  }
  bool ok = true;
  for (const auto& entry : node) {
    std::string key = entry.first.Scalar();
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
      Error(entry.first, fmt::format("unknown key '{}' in {} (expected one of: {})", key, what,
                                     fmt::join(allowed, ", ")));
      ok = false;
    }
  }
  for (const char* key : required) {
    if (!node[key]) {
      Error(node, fmt::format("{} is missing the required key '{}'", what, key));
      ok = false;
    }
  }
  return ok;
}

std::optional<std::string> YamlReader::String(const YAML::Node& map, const char* key) {
  YAML::Node n = map[key];
  if (!n) return std::nullopt;
  if (!n.IsScalar()) {
    Error(n, fmt::format("'{}' must be a string, found {}", key, Describe(n)));
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<int> YamlReader::Int(const YAML::Node& map, const char* key) {
  YAML::Node n = map[key];
  if (!n) return std::nullopt;
  int value = 0;
  if (!n.IsScalar() || !YAML::convert<int>::decode(n, value)) {
    Error(n, fmt::format("'{}' must be an integer, found {}", key, Describe(n)));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> YamlReader::Bool(const YAML::Node& map, const char* key) {
  YAML::Node n = map[key];
  if (!n) return std::nullopt;
  bool value = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, value)) {
    Error(n, fmt::format("'{}' must be true or false, found {}", key, Describe(n)));
    return std::nullopt;
  }
  return value;
}

std::optional<std::vector<std::string>> YamlReader::StringList(const YAML::Node& map, const char* key) {
  YAML::Node n = map[key];
  if (!n) return std::nullopt;
  if (!n.IsSequence()) {
    Error(n, fmt::format("'{}' must be a list of strings, found {}", key, Describe(n)));
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      Error(item, fmt::format("each entry of '{}' must be a string, found {}", key, Describe(item)));
      continue;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

}  // namespace internal
}  // namespace retention
