#include "yaml/yaml_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

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

namespace {

// Finds keys repeated in one map (YAML forbids them; yaml-cpp keeps one silently). Works
// on the parser's events, so aliases are never expanded and nesting costs no recursion.
class DuplicateKeyFinder : public YAML::EventHandler {
 public:
  std::vector<std::pair<YAML::Mark, std::string>> duplicates;

  int documents = 0;
  YAML::Mark second_document;

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) second_document = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark, nullptr); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark, nullptr); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string& value) override {
    Node(mark, &value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    Node(mark, nullptr);
    open_.push_back({false, true, {}});
  }
  void OnSequenceEnd() override { open_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    Node(mark, nullptr);
    open_.push_back({true, true, {}});
  }
  void OnMapEnd() override { open_.pop_back(); }

 private:
  struct Open {
    bool map;
    bool expect_key;
    std::set<std::string> keys;
  };
  // Every node starts here: in a map, keys and values alternate.
  void Node(const YAML::Mark& mark, const std::string* scalar) {
    if (open_.empty() || !open_.back().map) return;
    Open& m = open_.back();
    if (m.expect_key && scalar && !m.keys.insert(*scalar).second) duplicates.emplace_back(mark, *scalar);
    m.expect_key = !m.expect_key;
  }
  std::vector<Open> open_;
};

}  // namespace

size_t FirstInvalidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return i;
    uint32_t cp = len == 1 ? c : c & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string::npos;
}

std::optional<YAML::Node> YamlReader::ParseText(const std::string& text) {
  // YAML is Unicode: bytes that are not UTF-8 are refused where they are, before any
  // name or text read from them reaches JSON, the audit chain or a report.
  if (size_t bad = FirstInvalidUtf8(text); bad != std::string::npos) {
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(bad), '\n'));
    size_t start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
    int column = 1 + static_cast<int>(bad - (start == std::string::npos || bad == 0 ? 0 : start + 1));
    diagnostics_->push_back({file_, line, column, Diagnostic::Severity::kError,
                             fmt::format("invalid UTF-8 (byte 0x{:02x}): configuration and policy files are UTF-8",
                                         static_cast<unsigned char>(text[bad]))});
    return std::nullopt;
  }
  try {
    YAML::Node root = YAML::Load(text);
    std::istringstream in(text);
    YAML::Parser parser(in);
    DuplicateKeyFinder finder;
    // The first document, then at most one more call to learn whether anything follows.
    // Never loop until false: yaml-cpp 0.7 can report a document forever after a stray
    // token (e.g. a line starting with ','), which hung the loader.
    parser.HandleNextDocument(finder);
    if (parser.HandleNextDocument(finder)) {
      const YAML::Mark& m = finder.second_document;
      diagnostics_->push_back({file_, m.line + 1, m.column + 1, Diagnostic::Severity::kError,
                               "invalid YAML: text after the end of the document (one document per file; "
                               "a second '---' document or a stray token)"});
      return std::nullopt;
    }
    for (const auto& [mark, key] : finder.duplicates)
      diagnostics_->push_back({file_, mark.line + 1, mark.column + 1, Diagnostic::Severity::kError,
                               fmt::format("duplicate key '{}' in this map (each key at most once)", key)});
    if (!finder.duplicates.empty()) return std::nullopt;
    return root;
  } catch (const YAML::ParserException& e) {
    diagnostics_->push_back({file_, e.mark.line + 1, e.mark.column + 1, Diagnostic::Severity::kError,
                             "invalid YAML: " + e.msg});
    return std::nullopt;
  }
}

std::optional<std::string> ReadFileText(const std::string& path) {
  // Non-blocking, then a regular file only: a FIFO or a device never hangs a load.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::string> text;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    text.emplace();
    char buffer[65536];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text->append(buffer, static_cast<size_t>(n));
    if (n < 0) text.reset();
  }
  ::close(fd);
  return text;
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
