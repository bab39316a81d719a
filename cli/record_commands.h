// Per record and per person: `explain --config --binding --key` and `subject`.
#pragma once

#include <string>

#include "commands.h"
#include "deployment_loader.h"

namespace retention::cli {

struct RecordOptions {
  std::string config, policies, as_of, format = "text";
  std::string binding, key, subject;
  std::string out;
};

// The deployment with its stores, and its state database when one exists (none before
// the first run: operator holds are then not checked, and there is no history).
std::unique_ptr<Loaded> LoadWithStateIfAny(const std::string& config, const std::string& policies);

// `explain --config F --binding B --key K`: the record's facts from its store.
int RunExplainRecord(const RecordOptions& o);
void AddSubjectCommand(CLI::App& app, SetAction set_action);

}  // namespace retention::cli
