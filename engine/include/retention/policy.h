// Policies: one YAML file per fiche of the register, each holding rules. The format
// is documented in docs/policy-format.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "retention/diagnostic.h"
#include "retention/facts.h"

namespace retention {

namespace internal {
struct CompiledRule;  // the parsed date expressions, conditions and holds (private)
}

// The life of a record under a rule, in this order (any subset).
enum class Phase { kActive, kArchive, kPseudonymise, kDelete };
const char* PhaseName(Phase phase);  // "active", "archive", "pseudonymise", "delete"
std::optional<Phase> PhaseFromName(const std::string& name);  // the inverse; nullopt when unknown

struct Rule {
  std::string id;                       // "F05.prestations"
  std::vector<std::string> implements;  // catalog rule ids
  std::string source;                   // the verbatim sentence of the register
  std::vector<std::string> facts;       // the facts it reads
  bool manual = false;                  // no computable duration: a person decides
  std::string manual_reason;
  std::vector<Phase> phases;            // empty for manual rules
  std::vector<Phase> actions;           // the phases a timeline lists (all but a first phase without `from`)
  std::string summary;                  // one line: what it keeps, from what, how long, then what
  std::string decision;                 // how ambiguous text was read, and why (may be empty)
  std::string file;
  int line = 0;
  std::shared_ptr<const internal::CompiledRule> compiled;  // null for manual rules
};

struct Policy {
  int fiche = 0;          // 1..87 for the register's fiches, 0 for other documents
  std::string document;   // the source document for policies that are not fiches
  std::string domain;
  std::string title;
  bool title_inferred = false;  // the register gives no title; this one is descriptive
  std::vector<std::string> legal_basis;
  std::string file;
  std::vector<Rule> rules;
};

// One policy file given as text: its name (a relative path, e.g. "assurance/F01.yaml")
// and its content.
struct PolicyText {
  std::string name;
  std::string text;
};

class PolicySet {
 public:
  std::vector<Policy> policies;
  Vocabulary vocabulary;

  // A rule by its policy id, or by any catalog id it implements; null if none.
  const Rule* FindRule(const std::string& id) const;
  const Policy* FindPolicyOf(const Rule& rule) const;
  std::vector<const Rule*> AllRules() const;
  // SHA-256 over every policy file's bytes and name, in a stable order ("sha256:...").
  std::string hash;
  // The texts it was loaded from (LoadPolicies, LoadPolicyTexts; empty for
  // LoadPolicyText): the state database keeps them for each version a plan or run used
  // (policy_change.h), so that a locked version can be evaluated again.
  std::string vocabulary_text;
  std::vector<PolicyText> texts;
};

struct LoadResult {
  PolicySet policies;
  Diagnostics diagnostics;  // all problems found, in file order; errors make the set unusable
};

// Loads `<dir>/facts.yaml` and every `*.yaml` under `dir` (recursively). Diagnostics
// name each file by its path; PolicySet::hash depends on the files' paths relative to
// `dir` and their bytes, so one set has one hash wherever it is installed.
LoadResult LoadPolicies(const std::string& dir);

// The same from texts (a service that keeps its policies elsewhere than in files): the
// vocabulary (the content of facts.yaml), then the policy files in the order given.
// Diagnostics name files as `base_dir/name` (just `name` when base_dir is empty); the
// hash is LoadPolicies's for the same names and bytes.
LoadResult LoadPolicyTexts(const std::string& vocabulary_text, const std::vector<PolicyText>& files,
                           const std::string& base_dir = "");
// Loads one policy document from text, against a given vocabulary (for tests and tools).
LoadResult LoadPolicyText(const std::string& text, const std::string& file_name,
                          const Vocabulary& vocabulary);
// Loads a vocabulary file (facts.yaml), or its text.
Vocabulary LoadVocabulary(const std::string& path, Diagnostics* diagnostics);
Vocabulary LoadVocabularyText(const std::string& text, const std::string& file_name, Diagnostics* diagnostics);

}  // namespace retention
