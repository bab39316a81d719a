// Reading YAML with located diagnostics: every problem is recorded with the file,
// line and column of the node, and reading goes on so that one pass reports all.
// Private to the engine; shared by the policy, vocabulary and configuration loaders.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "retention/diagnostic.h"
#include "yaml/utf8.h"

namespace retention::internal {

class YamlReader {
 public:
  YamlReader(std::string file, Diagnostics* diagnostics) : file_(std::move(file)), diagnostics_(diagnostics) {}

  // Parses a whole document; a syntax error is recorded (with its location) and null returned.
  std::optional<YAML::Node> ParseText(const std::string& text);
  std::optional<YAML::Node> ParseFile();

  void Error(const YAML::Node& node, const std::string& message, size_t offset = 0);
  void Warning(const YAML::Node& node, const std::string& message, size_t offset = 0);

  // Checks that `node` is a map whose keys are all in `allowed` and that every key in
  // `required` is present; reports each unknown or missing key.
  bool CheckMap(const YAML::Node& node, const char* what, std::initializer_list<const char*> allowed,
                std::initializer_list<const char*> required);

  // Typed reads of a map entry: absent → nullopt silently; wrong type → an error.
  std::optional<std::string> String(const YAML::Node& map, const char* key);
  std::optional<int> Int(const YAML::Node& map, const char* key);
  std::optional<bool> Bool(const YAML::Node& map, const char* key);
  std::optional<std::vector<std::string>> StringList(const YAML::Node& map, const char* key);

  // The column where a scalar's text begins (after an opening quote).
  static int TextColumn(const YAML::Node& node);
  const std::string& file() const { return file_; }
  size_t error_count() const { return static_cast<size_t>(std::count_if(diagnostics_->begin(), diagnostics_->end(),
      [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::kError; })); }

 private:
  void Add(const YAML::Node& node, Diagnostic::Severity severity, const std::string& message, size_t offset);
  std::string file_;
  Diagnostics* diagnostics_;
};

std::string Describe(const YAML::Node& node);

// A whole file's bytes; nullopt when it cannot be read.
std::optional<std::string> ReadFileText(const std::string& path);  // "a map", "a list", "the string 'x'"...

}  // namespace retention::internal
