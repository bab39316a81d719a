// Per record and per person: `explain --config --binding --key` and `subject`.
#pragma once

#include <string>

#include "commands.h"

namespace retention::cli {

struct RecordOptions {
  std::string config, policies, as_of, format = "text";
  std::string binding, key, subject;
  std::string out;
};

// `explain --config F --binding B --key K`: the record's facts from its store.
int RunExplainRecord(const RecordOptions& o);
void AddSubjectCommand(CLI::App& app, SetAction set_action);

}  // namespace retention::cli
