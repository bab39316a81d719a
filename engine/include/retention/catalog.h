// The catalog of the register's retention rules (../shared/catalog/catalog.yaml) and
// the documents generated from a policy set: coverage of the catalog, the table of
// policies (docs/policies.md) and of facts (docs/facts.md).
#pragma once

#include <string>
#include <vector>

#include "retention/policy.h"
#include "retention/status.h"

namespace retention {

struct CatalogRule {
  std::string id;    // "F05.prestations"
  std::string text;  // the verbatim span of the register
  bool quantified = true;
};

struct CatalogFiche {
  int fiche = 0;
  std::string domain;
  std::string title;
  std::vector<CatalogRule> rules;
};

struct Catalog {
  std::vector<CatalogFiche> fiches;
  size_t rule_count() const;
};

Result<Catalog> LoadCatalog(const std::string& path);

struct CoverageRow {
  std::string catalog_id;
  std::vector<const Rule*> rules;  // exactly one when covered
  bool quote_ok = false;           // the rule's source contains the catalog text verbatim
};

struct Coverage {
  std::vector<CoverageRow> rows;
  size_t covered = 0;     // ids implemented by exactly one rule
  size_t executable = 0;  // covered ids whose rule is executable
  size_t manual = 0;
  std::vector<std::string> problems;  // missing, implemented twice, not quoted verbatim
  bool ok() const { return problems.empty(); }
};

Coverage CheckCoverage(const PolicySet& policies, const Catalog& catalog);

// docs/policies.md: every policy with its rules, one line each, then the decisions.
std::string PoliciesTableMarkdown(const PolicySet& policies);
// docs/facts.md: the vocabulary.
std::string FactsMarkdown(const Vocabulary& vocabulary);

}  // namespace retention
