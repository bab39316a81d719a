#include <algorithm>

#include <fmt/format.h>

#include "retention/facts.h"
#include "retention/policy.h"
#include "yaml/yaml_reader.h"

namespace retention {

void Vocabulary::Add(FactDefinition definition) { definitions_.push_back(std::move(definition)); }

const FactDefinition* Vocabulary::Find(const std::string& name) const {
  for (const auto& d : definitions_)
    if (d.name == name) return &d;
  return nullptr;
}

const char* FactTypeName(FactType type) {
  switch (type) {
    case FactType::kDate: return "date";
    case FactType::kFlag: return "flag";
    case FactType::kEnum: return "enumeration";
  }
  return "?";
}

std::string FactValueToString(const FactValue& value) {
  if (const Date* d = std::get_if<Date>(&value)) return d->ToString();
  if (const bool* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  return std::get<std::string>(value);
}

Result<FactValue> ParseFactValue(const Vocabulary& vocabulary, const std::string& name, const std::string& text) {
  const FactDefinition* def = vocabulary.Find(name);
  if (!def) return Status::InvalidArgument(fmt::format("unknown fact '{}'", name));
  switch (def->type) {
    case FactType::kDate:
      if (auto d = Date::Parse(text)) return FactValue(*d);
      return Status::InvalidArgument(
          fmt::format("fact '{}': '{}' is not a valid date (expected YYYY-MM-DD, a real calendar day)", name, text));
    case FactType::kFlag:
      if (text == "true") return FactValue(true);
      if (text == "false") return FactValue(false);
      return Status::InvalidArgument(fmt::format("fact '{}' is a flag: expected true or false, found '{}'", name, text));
    case FactType::kEnum:
      if (std::find(def->values.begin(), def->values.end(), text) != def->values.end()) return FactValue(text);
      return Status::InvalidArgument(fmt::format("fact '{}': '{}' is not one of {}", name, text,
                                                 fmt::join(def->values, ", ")));
  }
  return Status::Internal("unreachable");
}

Result<Facts> ParseFacts(const Vocabulary& vocabulary, const std::map<std::string, std::string>& text) {
  Facts facts;
  for (const auto& [name, value] : text) {
    auto v = ParseFactValue(vocabulary, name, value);
    if (!v.ok()) return v.status();
    facts.emplace(name, std::move(*v));
  }
  return facts;
}

Status CheckFacts(const Vocabulary& vocabulary, const Facts& facts) {
  static constexpr FactType kTypeOfIndex[] = {FactType::kDate, FactType::kFlag, FactType::kEnum};  // FactValue's order
  for (const auto& [name, value] : facts) {
    const FactDefinition* def = vocabulary.Find(name);
    if (!def) return Status::InvalidArgument(fmt::format("unknown fact '{}'", name));
    FactType given = kTypeOfIndex[value.index()];
    if (given != def->type)
      return Status::InvalidArgument(fmt::format("fact '{}' is {} {}, not {} {} ('{}')", name,
                                                 def->type == FactType::kEnum ? "an" : "a", FactTypeName(def->type),
                                                 given == FactType::kEnum ? "an" : "a", FactTypeName(given),
                                                 FactValueToString(value)));
    if (def->type == FactType::kEnum) {
      const auto& word = std::get<std::string>(value);
      if (std::find(def->values.begin(), def->values.end(), word) == def->values.end())
        return Status::InvalidArgument(
            fmt::format("fact '{}': '{}' is not one of {}", name, word, fmt::join(def->values, ", ")));
    }
  }
  return Status::Ok();
}

Vocabulary LoadVocabulary(const std::string& path, Diagnostics* diagnostics) {
  Vocabulary vocabulary;
  internal::YamlReader reader(path, diagnostics);
  auto root = reader.ParseFile();
  if (!root) return vocabulary;
  if (!reader.CheckMap(*root, "the vocabulary", {"facts"}, {"facts"})) return vocabulary;
  YAML::Node facts = (*root)["facts"];
  if (!facts.IsSequence()) {
    reader.Error(facts, "'facts' must be a list of fact definitions");
    return vocabulary;
  }
  for (const auto& node : facts) {
    if (!reader.CheckMap(node, "a fact definition", {"name", "type", "scope", "values", "meaning", "example"},
                         {"name", "type", "meaning"}))
      continue;
    FactDefinition def;
    def.name = reader.String(node, "name").value_or("");
    def.meaning = reader.String(node, "meaning").value_or("");
    def.example = reader.String(node, "example").value_or("");
    std::string type = reader.String(node, "type").value_or("");
    if (type == "date") def.type = FactType::kDate;
    else if (type == "flag") def.type = FactType::kFlag;
    else if (type == "enum") def.type = FactType::kEnum;
    else reader.Error(node["type"], fmt::format("unknown fact type '{}' (expected date, flag or enum)", type));
    std::string scope = reader.String(node, "scope").value_or("record");
    if (scope == "deployment") def.scope = FactScope::kDeployment;
    else if (scope != "record")
      reader.Error(node["scope"], fmt::format("unknown scope '{}' (expected record or deployment)", scope));
    def.values = reader.StringList(node, "values").value_or(std::vector<std::string>{});
    if (def.type == FactType::kEnum && def.values.empty())
      reader.Error(node, fmt::format("enumeration '{}' needs a non-empty 'values' list", def.name));
    if (vocabulary.Find(def.name)) reader.Error(node["name"], fmt::format("fact '{}' is defined twice", def.name));
    vocabulary.Add(std::move(def));
  }
  return vocabulary;
}

}  // namespace retention
