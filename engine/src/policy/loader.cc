// Loads policy files into compiled rules, reporting every problem with its location.
#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "crypto/digest.h"
#include "policy/compiled_rule.h"
#include "yaml/utf8.h"
#include "yaml/yaml_reader.h"

namespace retention {
namespace fs = std::filesystem;
using internal::YamlReader;

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kActive: return "active";
    case Phase::kArchive: return "archive";
    case Phase::kPseudonymise: return "pseudonymise";
    case Phase::kDelete: return "delete";
  }
  return "?";
}

std::optional<Phase> PhaseFromName(const std::string& name) {
  for (Phase p : {Phase::kActive, Phase::kArchive, Phase::kPseudonymise, Phase::kDelete})
    if (name == PhaseName(p)) return p;
  return std::nullopt;
}

namespace {

// Compiles the rules of one policy file.
class RuleCompiler {
 public:
  RuleCompiler(YamlReader* reader, const Vocabulary* vocabulary) : r_(*reader), vocabulary_(*vocabulary) {}

  std::optional<Rule> Compile(const YAML::Node& node, const std::string& id_prefix) {
    r_.CheckMap(node, "a rule", {"id", "implements", "source", "facts", "phases", "holds", "manual", "decision"},
                {"id", "implements", "source"});
    if (!node.IsMap()) return std::nullopt;
    Rule rule;
    rule.file = r_.file();
    rule.line = node.Mark().line + 1;
    rule.id = r_.String(node, "id").value_or("");
    static const std::regex kId("[A-Za-z0-9]+\\.[a-z0-9_]+");
    if (node["id"] && !std::regex_match(rule.id, kId))
      r_.Error(node["id"], fmt::format("rule id '{}' must look like F05.prestations (prefix, dot, snake_case)", rule.id));
    else if (node["id"] && !id_prefix.empty() && rule.id.rfind(id_prefix, 0) != 0)
      r_.Error(node["id"], fmt::format("rule id '{}' must start with '{}' (the policy's fiche)", rule.id, id_prefix));
    rule.implements = r_.StringList(node, "implements").value_or(std::vector<std::string>{});
    if (node["implements"] && rule.implements.empty())
      r_.Error(node["implements"], "'implements' must list at least one catalog rule id");
    rule.source = r_.String(node, "source").value_or("");
    rule.decision = r_.String(node, "decision").value_or("");
    if (node["source"] && rule.source.empty()) r_.Error(node["source"], "'source' must quote the register's sentence");

    bool has_manual = static_cast<bool>(node["manual"]), has_phases = static_cast<bool>(node["phases"]);
    if (has_manual == has_phases) {
      r_.Error(node, fmt::format("rule '{}' needs exactly one of 'phases' (a computable retention) or "
                                 "'manual' (the reason it is not computable)", rule.id));
      return rule;
    }
    if (has_manual) {
      rule.manual = true;
      rule.manual_reason = r_.String(node, "manual").value_or("");
      if (rule.manual_reason.empty()) r_.Error(node["manual"], "'manual' must give the reason, as text");
      for (const char* key : {"holds", "facts"})
        if (node[key]) r_.Error(node[key], fmt::format("a manual rule has no '{}'", key));
      rule.summary = "manual: " + rule.manual_reason;
      return rule;
    }
    auto compiled = std::make_shared<internal::CompiledRule>();
    size_t errors_before = r_.error_count();
    CompilePhases(node["phases"], compiled.get());
    if (node["holds"]) CompileHolds(node["holds"], compiled.get());
    for (const auto& p : compiled->phases) rule.phases.push_back(p.kind);
    for (size_t i = 0; i < compiled->phases.size(); ++i)
      if (i > 0 || compiled->phases[i].from) rule.actions.push_back(compiled->phases[i].kind);
    // After a broken expression the facts it reads are unknown: skip the cross-check.
    CheckFacts(node, *compiled, &rule, /*check_unused=*/r_.error_count() == errors_before);
    for (const auto& f : rule.facts)
      if (const FactDefinition* d = vocabulary_.Find(f); d && d->scope == FactScope::kDeployment)
        compiled->deployment_facts.insert(f);
    rule.summary = Summarize(*compiled);
    rule.compiled = std::move(compiled);
    return rule;
  }

 private:
  std::optional<internal::DateExpr> DateAt(const YAML::Node& node) {
    if (!node.IsScalar()) {
      r_.Error(node, fmt::format("expected a date expression (e.g. fin_droits + 5y), found {}", internal::Describe(node)));
      return std::nullopt;
    }
    std::vector<internal::ExprError> errors;
    auto e = internal::ParseDateExpr(node.Scalar(), vocabulary_, &errors);
    for (const auto& err : errors) r_.Error(node, err.message, err.offset);
    return e;
  }

  std::optional<internal::CondExpr> ConditionAt(const YAML::Node& node) {
    if (!node.IsScalar()) {
      r_.Error(node, fmt::format("expected a condition (e.g. contentieux and not decision_definitive), found {}",
                                 internal::Describe(node)));
      return std::nullopt;
    }
    std::vector<internal::ExprError> errors;
    auto e = internal::ParseCondition(node.Scalar(), vocabulary_, &errors);
    for (const auto& err : errors) r_.Error(node, err.message, err.offset);
    return e;
  }

  std::optional<internal::EndSpec> EndAt(const YAML::Node& node) {
    internal::EndSpec spec;
    if (!node.IsMap()) {
      spec.otherwise = DateAt(node);
      return spec.otherwise ? std::optional(spec) : std::nullopt;
    }
    if (!r_.CheckMap(node, "an 'until' with cases", {"cases", "otherwise"}, {"cases"})) return std::nullopt;
    bool ok = true;
    YAML::Node cases = node["cases"];
    if (!cases.IsSequence() || cases.size() == 0) {
      r_.Error(cases, "'cases' must be a non-empty list of {when, date}");
      return std::nullopt;
    }
    for (const auto& c : cases) {
      if (!r_.CheckMap(c, "a case", {"when", "date"}, {"when", "date"})) { ok = false; continue; }
      auto when = ConditionAt(c["when"]);
      auto date = DateAt(c["date"]);
      if (when && date) spec.cases.push_back({std::move(*when), std::move(*date)});
      else ok = false;
    }
    if (node["otherwise"]) {
      spec.otherwise = DateAt(node["otherwise"]);
      ok = ok && spec.otherwise.has_value();
    }
    return ok ? std::optional(spec) : std::nullopt;
  }

  void CompilePhases(const YAML::Node& list, internal::CompiledRule* out) {
    if (!list.IsSequence() || list.size() == 0) {
      r_.Error(list, "'phases' must be a non-empty list (active, archive, pseudonymise, delete)");
      return;
    }
    std::optional<Phase> previous;
    for (size_t i = 0; i < list.size(); ++i) {
      YAML::Node node = list[i];
      if (!r_.CheckMap(node, "a phase", {"phase", "when", "until", "for", "from"}, {"phase"})) continue;
      std::string name = r_.String(node, "phase").value_or("");
      auto kind = PhaseFromName(name);
      if (!kind) {
        r_.Error(node["phase"], fmt::format("unknown action '{}' (expected active, archive, pseudonymise or delete)", name));
        continue;
      }
      internal::PhaseSpec phase;
      phase.kind = *kind;
      if (previous && *kind <= *previous)
        r_.Error(node["phase"], fmt::format("phase '{}' comes after '{}': phases must be in the order "
                                            "active, archive, pseudonymise, delete, each at most once",
                                            name, PhaseName(*previous)));
      bool last = i + 1 == list.size();
      if (node["until"] && node["for"]) r_.Error(node, "a phase has either 'until' (a date) or 'for' (a duration), not both");
      if (node["until"]) phase.until = EndAt(node["until"]);
      if (node["for"]) {
        std::string text = node["for"].IsScalar() ? node["for"].Scalar() : "";
        phase.length = Duration::Parse(text);
        if (!phase.length)
          r_.Error(node["for"], fmt::format("bad duration '{}': expected a number and a unit d, w, m or y with no "
                                            "space, e.g. 5y, 18m, 3w, 60d", text));
        if (i == 0) r_.Error(node["for"], "the first phase cannot use 'for': say 'until' which date it lasts");
      }
      if (node["from"]) {
        if (i != 0 || *kind == Phase::kActive)
          r_.Error(node["from"], "'from' is only for a first phase that is not 'active' (e.g. an immediate delete)");
        else phase.from = DateAt(node["from"]);
      }
      if (node["when"]) {
        if (i == 0 || *kind == Phase::kDelete)
          r_.Error(node["when"], "'when' is only for a phase between the first one and delete (e.g. an archive "
                                 "that some records skip)");
        else phase.when = ConditionAt(node["when"]);
      }
      bool has_end = node["until"] || node["for"];
      if (*kind == Phase::kDelete && has_end)
        r_.Error(node, "'delete' is final: it has no 'until' or 'for'");
      if (*kind == Phase::kDelete && !last)
        r_.Error(node["phase"], "'delete' must be the last phase");
      if (!last && !has_end && *kind != Phase::kDelete)
        r_.Error(node, fmt::format("phase '{}' needs 'until' or 'for': when does it end?", name));
      if (last && has_end && *kind != Phase::kDelete)
        r_.Error(node, fmt::format("phase '{}' ends, but no phase follows it (add one, e.g. delete)", name));
      if (i == 0 && *kind == Phase::kDelete && !node["from"])
        r_.Error(node, "a rule that starts with 'delete' needs 'from' (the first day it is due, e.g. collecte)");
      out->phases.push_back(std::move(phase));
      previous = kind;
    }
  }

  void CompileHolds(const YAML::Node& list, internal::CompiledRule* out) {
    if (!list.IsSequence()) {
      r_.Error(list, "'holds' must be a list of {when, until, then, reason}");
      return;
    }
    for (const auto& node : list) {
      if (!r_.CheckMap(node, "a hold", {"when", "until", "then", "reason"}, {"when", "until"})) continue;
      internal::HoldSpec hold;
      auto when = ConditionAt(node["when"]);
      hold.until = r_.String(node, "until").value_or("");
      const FactDefinition* def = vocabulary_.Find(hold.until);
      if (!def) r_.Error(node["until"], fmt::format("unknown fact '{}' (not in the vocabulary facts.yaml)", hold.until));
      else if (def->type != FactType::kDate)
        r_.Error(node["until"], fmt::format("a hold lasts until a date fact; '{}' is a {}", hold.until, FactTypeName(def->type)));
      if (node["then"]) hold.then = DateAt(node["then"]);
      hold.reason = r_.String(node, "reason").value_or("");
      if (when) {
        hold.when = std::move(*when);
        if (hold.reason.empty())
          hold.reason = fmt::format("while {} and {} is unknown", hold.when.ToString(), hold.until);
        out->holds.push_back(std::move(hold));
      }
    }
  }

  void CheckFacts(const YAML::Node& node, const internal::CompiledRule& compiled, Rule* rule, bool check_unused) {
    std::vector<std::string> used;
    for (const auto& p : compiled.phases) {
      if (p.from) internal::CollectFacts(*p.from, &used);
      if (p.when) internal::CollectFacts(*p.when, &used);
      if (!p.until) continue;
      for (const auto& c : p.until->cases) {
        internal::CollectFacts(c.when, &used);
        internal::CollectFacts(c.date, &used);
      }
      if (p.until->otherwise) internal::CollectFacts(*p.until->otherwise, &used);
    }
    for (const auto& h : compiled.holds) {
      internal::CollectFacts(h.when, &used);
      if (std::find(used.begin(), used.end(), h.until) == used.end()) used.push_back(h.until);
      if (h.then) internal::CollectFacts(*h.then, &used);
    }
    if (!node["facts"]) {
      r_.Error(node, fmt::format("rule '{}' must list the facts it reads: facts: [{}]", rule->id, fmt::join(used, ", ")));
      return;
    }
    rule->facts = r_.StringList(node, "facts").value_or(std::vector<std::string>{});
    for (size_t i = 0; i < rule->facts.size(); ++i) {
      const std::string& f = rule->facts[i];
      YAML::Node item = node["facts"][i];
      if (!vocabulary_.Find(f)) r_.Error(item, fmt::format("unknown fact '{}' (not in the vocabulary facts.yaml)", f));
      else if (check_unused && std::find(used.begin(), used.end(), f) == used.end())
        r_.Error(item, fmt::format("fact '{}' is listed but no phase or hold reads it", f));
    }
    for (const auto& f : used)
      if (std::find(rule->facts.begin(), rule->facts.end(), f) == rule->facts.end())
        r_.Error(node["facts"], fmt::format("fact '{}' is read by the rule but not listed in 'facts'", f));
  }

  static std::string EndText(const internal::EndSpec& end) {
    if (end.cases.empty()) return end.otherwise->ToString();
    std::vector<std::string> parts;
    for (const auto& c : end.cases) parts.push_back(fmt::format("if {}: {}", c.when.ToString(), c.date.ToString()));
    if (end.otherwise) parts.push_back("otherwise " + end.otherwise->ToString());
    return "the longest of (" + fmt::format("{}", fmt::join(parts, "; ")) + ")";
  }

 public:
  static std::string Summarize(const internal::CompiledRule& rule) {
    std::vector<std::string> parts;
    for (const auto& p : rule.phases) {
      std::string s = PhaseName(p.kind);
      if (p.when) s += " (only if " + p.when->ToString() + ")";
      if (p.from) s += " from " + p.from->ToString();
      if (p.until) s += " through " + EndText(*p.until);
      if (p.length) s += " for " + p.length->ToString();
      parts.push_back(s);
    }
    std::string out = fmt::format("{}", fmt::join(parts, ", then "));
    for (const auto& h : rule.holds) {
      out += fmt::format("; held while {} until {} is known", h.when.ToString(), h.until);
      if (h.then) out += ", then kept through " + h.then->ToString();
    }
    return out;
  }

 private:
  YamlReader& r_;
  const Vocabulary& vocabulary_;
};

void LoadDocument(YamlReader& reader, const YAML::Node& root, const Vocabulary& vocabulary, LoadResult* result) {
  reader.CheckMap(root, "a policy", {"fiche", "document", "domain", "title", "title_inferred", "legal_basis", "rules"},
                 {"domain", "title", "legal_basis", "rules"});
  if (!root.IsMap()) return;
  Policy policy;
  policy.file = reader.file();
  policy.fiche = reader.Int(root, "fiche").value_or(0);
  policy.document = reader.String(root, "document").value_or("");
  std::string prefix;
  if (root["fiche"] && (policy.fiche < 1 || policy.fiche > 87))
    reader.Error(root["fiche"], fmt::format("fiche must be between 1 and 87, found {}", policy.fiche));
  if (static_cast<bool>(root["fiche"]) == static_cast<bool>(root["document"]))
    reader.Error(root, "a policy has exactly one of 'fiche' (a number of the register) or 'document' (another source)");
  if (policy.fiche > 0) prefix = fmt::format("F{:02}.", policy.fiche);
  policy.domain = reader.String(root, "domain").value_or("");
  policy.title = reader.String(root, "title").value_or("");
  policy.title_inferred = reader.Bool(root, "title_inferred").value_or(false);
  policy.legal_basis = reader.StringList(root, "legal_basis").value_or(std::vector<std::string>{});
  YAML::Node rules = root["rules"];
  if (rules && (!rules.IsSequence() || rules.size() == 0)) {
    reader.Error(rules, "'rules' must be a non-empty list");
  } else if (rules) {
    RuleCompiler compiler(&reader, &vocabulary);
    for (const auto& node : rules)
      if (auto rule = compiler.Compile(node, prefix)) policy.rules.push_back(std::move(*rule));
  }
  result->policies.policies.push_back(std::move(policy));
}

// Rule ids and catalog ids must be unique across the whole set.
void CheckUnique(LoadResult* result) {
  std::map<std::string, const Rule*> ids, implemented;
  std::map<int, const Policy*> fiches;
  for (const auto& policy : result->policies.policies) {
    if (policy.fiche > 0) {
      if (auto [it, fresh] = fiches.emplace(policy.fiche, &policy); !fresh)
        result->diagnostics.push_back({policy.file, 1, 1, Diagnostic::Severity::kError,
                                       fmt::format("fiche {} already has a policy in {}", policy.fiche, it->second->file)});
    }
    for (const auto& rule : policy.rules) {
      if (auto [it, fresh] = ids.emplace(rule.id, &rule); !fresh)
        result->diagnostics.push_back({rule.file, rule.line, 5, Diagnostic::Severity::kError,
                                       fmt::format("duplicate rule id '{}' (first defined at {}:{})", rule.id,
                                                   it->second->file, it->second->line)});
      for (const auto& c : rule.implements)
        if (auto [it, fresh] = implemented.emplace(c, &rule); !fresh)
          result->diagnostics.push_back({rule.file, rule.line, 5, Diagnostic::Severity::kError,
                                         fmt::format("catalog id '{}' is already implemented by rule '{}'", c,
                                                     it->second->id)});
    }
  }
}

void SortDiagnostics(Diagnostics* diagnostics) {
  std::stable_sort(diagnostics->begin(), diagnostics->end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
}

}  // namespace

const Rule* PolicySet::FindRule(const std::string& id) const {
  for (const auto& p : policies)
    for (const auto& r : p.rules)
      if (r.id == id) return &r;
  for (const auto& p : policies)
    for (const auto& r : p.rules)
      if (std::find(r.implements.begin(), r.implements.end(), id) != r.implements.end()) return &r;
  return nullptr;
}

const Policy* PolicySet::FindPolicyOf(const Rule& rule) const {
  for (const auto& p : policies)
    for (const auto& r : p.rules)
      if (&r == &rule) return &p;
  return nullptr;
}

std::vector<const Rule*> PolicySet::AllRules() const {
  std::vector<const Rule*> out;
  for (const auto& p : policies)
    for (const auto& r : p.rules) out.push_back(&r);
  return out;
}

LoadResult LoadPolicyText(const std::string& text, const std::string& file_name, const Vocabulary& vocabulary) {
  LoadResult result;
  result.policies.vocabulary = vocabulary;
  YamlReader reader(file_name, &result.diagnostics);
  if (auto root = reader.ParseText(text)) LoadDocument(reader, *root, vocabulary, &result);
  CheckUnique(&result);
  SortDiagnostics(&result.diagnostics);
  return result;
}

LoadResult LoadPolicyTexts(const std::string& vocabulary_text, const std::vector<PolicyText>& files,
                           const std::string& base_dir) {
  LoadResult result;
  auto located = [&](const std::string& name) { return base_dir.empty() ? name : (fs::path(base_dir) / name).string(); };
  result.policies.vocabulary = LoadVocabularyText(vocabulary_text, located("facts.yaml"), &result.diagnostics);
  std::string all = vocabulary_text;
  std::set<std::string> names;
  for (const auto& [name, text] : files) {
    // A relative path, once each: the hash joins names and texts with newlines, so a
    // name with a newline could make two sets hash alike.
    fs::path p(name);
    bool dots = std::any_of(p.begin(), p.end(), [](const fs::path& part) { return part == ".."; });
    if (name.empty() || p.is_absolute() || dots || name.find('\n') != std::string::npos ||
        internal::FirstInvalidUtf8(name) != std::string::npos || !names.insert(name).second)
      result.diagnostics.push_back({located(name), 0, 0, Diagnostic::Severity::kError,
                                    "a policy file's name is a relative path without '..' or newlines, given once"});
  }
  if (HasErrors(result.diagnostics)) return result;
  for (const auto& [name, text] : files) {  // in the order given
    all += "\n--- " + name + "\n" + text;
    YamlReader reader(located(name), &result.diagnostics);
    if (auto root = reader.ParseText(text)) LoadDocument(reader, *root, result.policies.vocabulary, &result);
  }
  CheckUnique(&result);
  SortDiagnostics(&result.diagnostics);
  result.policies.hash = "sha256:" + internal::Sha256Hex(all);
  result.policies.vocabulary_text = vocabulary_text;
  result.policies.texts = files;
  return result;
}

LoadResult LoadPolicies(const std::string& dir) {
  LoadResult result;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    result.diagnostics.push_back({dir, 0, 0, Diagnostic::Severity::kError, "not a directory of policies"});
    return result;
  }
  fs::path vocabulary_path = fs::path(dir) / "facts.yaml";
  auto vocabulary = internal::ReadFileText(vocabulary_path.string());
  if (!vocabulary) {
    result.diagnostics.push_back({vocabulary_path.string(), 0, 0, Diagnostic::Severity::kError,
                                  fs::exists(vocabulary_path, ec)
                                      ? "cannot read the file"
                                      : "the vocabulary of facts is missing (every policy folder has a facts.yaml)"});
    return result;
  }
  std::vector<fs::path> paths;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const auto& entry = *it;
    if (entry.path().extension() != ".yaml" || entry.path() == vocabulary_path) continue;
    std::error_code type_ec;
    if (entry.is_regular_file(type_ec)) paths.push_back(entry.path());
    else if (!entry.is_directory(type_ec))  // a dangling symlink, a FIFO...: never silently skipped
      result.diagnostics.push_back({entry.path().string(), 0, 0, Diagnostic::Severity::kError,
                                    "not a regular file (a policy file cannot be a dangling link, a FIFO or a device)"});
  }
  if (ec)
    result.diagnostics.push_back({dir, 0, 0, Diagnostic::Severity::kError,
                                  "cannot read the whole folder: " + ec.message()});
  if (HasErrors(result.diagnostics)) return result;
  std::sort(paths.begin(), paths.end());
  std::vector<PolicyText> files;
  for (const auto& path : paths)
    files.push_back({fs::relative(path, dir).generic_string(), internal::ReadFileText(path.string()).value_or("")});
  return LoadPolicyTexts(*vocabulary, files, dir);
}

}  // namespace retention
