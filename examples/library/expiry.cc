// A service computing a record's expiry when it writes it, by linking retention::engine.
//   expiry POLICIES_DIR RULE NAME=VALUE...
// prints the first day each action is allowed, e.g. to store in a `purge_after` column.
#include <exception>
#include <iostream>

#include "retention/evaluator.h"
#include "retention/policy.h"

namespace {

int Expiry(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: expiry POLICIES_DIR RULE [NAME=VALUE...]\n";
    return 2;
  }
  // Load and compile once, at service start.
  retention::LoadResult loaded = retention::LoadPolicies(argv[1]);
  if (retention::HasErrors(loaded.diagnostics)) {
    for (const auto& d : loaded.diagnostics) std::cerr << d.ToString() << "\n";
    return 2;
  }
  const retention::Rule* rule = loaded.policies.FindRule(argv[2]);
  if (!rule) {
    std::cerr << "unknown rule " << argv[2] << "\n";
    return 2;
  }
  // Then, for each record written: its facts in, its timeline out.
  retention::Facts facts;
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    auto value = retention::ParseFactValue(loaded.policies.vocabulary, arg.substr(0, eq),
                                           eq == std::string::npos ? "" : arg.substr(eq + 1));
    if (!value.ok()) {
      std::cerr << value.status().message() << "\n";
      return 2;
    }
    facts[arg.substr(0, eq)] = *value;
  }
  retention::Evaluation e = retention::Evaluate(*rule, facts, *retention::Date::Parse("2000-01-01"));
  std::cout << rule->id << ": " << retention::EvalStatusName(e.status) << "\n";
  for (const auto& t : e.timeline) std::cout << retention::PhaseName(t.action) << " " << t.from.ToString() << "\n";
  for (const auto& m : e.missing) std::cout << "missing " << m << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Expiry(argc, argv);
  } catch (const std::exception& e) {  // last resort: a message and exit 1, never an abort
    std::cerr << "expiry: internal error: " << e.what() << "\n";
    return 1;
  }
}
