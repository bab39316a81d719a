// retention explain --key (one record from its store) and retention subject (every
// record about one person). Only what the user passed is printed: no other key or
// identifier.
#include "record_commands.h"

#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common.h"
#include "deployment_loader.h"
#include "retention/explain.h"
#include "retention/report.h"

namespace retention::cli {
namespace {

// The records found point into the loaded policies: `loaded` must outlive them.
std::vector<RecordView> Find(const RecordOptions& o, RecordQuery q, std::unique_ptr<OpenedDeployment>& loaded) {
  q.as_of = ParseAsOf(o.as_of, "--as-of");
  loaded = LoadForCommand(o.config, o.policies, true, State::kIfExists);
  if (!loaded->state) std::cerr << "note: no state database yet, so operator holds were not checked\n";
  auto found = FindRecords(loaded->deployment, loaded->policies, *loaded->stores,
                           loaded->state ? &*loaded->state : nullptr, q);
  if (!found.ok()) {
    bool bad = found.status().code() == Status::Code::kInvalidArgument;
    throw Exit{bad ? kExitBadInput : kExitFailed, found.status().message()};
  }
  return std::move(*found);
}

int RunSubject(const RecordOptions& o) {
  RecordQuery q;
  q.subject = o.subject;
  if (o.subject.empty()) throw Exit{kExitBadInput, "--subject must not be empty"};
  std::unique_ptr<OpenedDeployment> loaded;
  auto records = Find(o, q, loaded);
  Date as_of = ParseAsOf(o.as_of, "--as-of");
  std::string text = o.format == "json"   ? SubjectJson(records, as_of) + "\n"
                     : o.format == "html" ? SubjectHtml(records, as_of)
                                          : SubjectText(records, as_of);
  if (o.out.empty()) {
    std::cout << text;
    return kExitOk;
  }
  std::ofstream f(o.out, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) throw Exit{kExitBadInput, fmt::format("cannot write {}", o.out)};
  return kExitOk;
}

}  // namespace

int RunExplainRecord(const RecordOptions& o) {
  if (o.binding.empty() || o.key.empty()) throw Exit{kExitBadInput, "--config needs --binding and --key"};
  RecordQuery q;
  q.binding = o.binding;
  q.key = o.key;
  std::unique_ptr<OpenedDeployment> loaded;
  auto records = Find(o, q, loaded);
  if (records.empty())
    throw Exit{kExitBadInput, fmt::format("binding {}: no record with key '{}' (or its facts could not be read)",
                                          o.binding, o.key)};
  const RecordView& r = records.front();
  std::string hold = r.operator_hold ? *r.operator_hold : "";
  if (o.format == "json") {
    auto j = nlohmann::ordered_json::parse(ExplainJson(r.evaluation, r.evaluation.rule_id));
    j["binding"] = r.binding;
    j["key"] = o.key;
    j["due_now"] = r.action ? nlohmann::ordered_json(PhaseName(*r.action)) : nlohmann::ordered_json(nullptr);
    j["operator_hold"] = r.operator_hold ? nlohmann::ordered_json(hold) : nlohmann::ordered_json(nullptr);
    std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("binding   {}\nkey       {}\n", r.binding, o.key);
  std::cout << ExplainText(r.evaluation, *r.rule, r.evaluation.rule_id);
  if (r.action) std::cout << fmt::format("a run would now: {}\n", PhaseName(*r.action));
  if (r.operator_hold) std::cout << fmt::format("operator hold: {} (nothing is done while it is active)\n", hold);
  return kExitOk;
}

void AddSubjectCommand(CLI::App& app, SetAction set_action) {
  auto o = std::make_shared<RecordOptions>();
  CLI::App* cmd = app.add_subcommand("subject", "Every record about one person, with its status, next action and holds");
  cmd->add_option("--config,-c", o->config, "The deployment configuration (YAML)")->required();
  cmd->add_option("--policies", o->policies, "Policy folder (default: the configuration's `policies`, then ./policies)");
  cmd->add_option("--subject", o->subject, "The person's identifier, as the bindings' subject column holds it")->required();
  cmd->add_option("--as-of", o->as_of, "As of this date (default: today)");
  cmd->add_option("--format", o->format, "text (default), json or html")->check(CLI::IsMember({"text", "json", "html"}));
  cmd->add_option("--out,-o", o->out, "Write to this file instead of stdout");
  cmd->footer(R"(
For a right of access or erasure request: reads every binding that has a subject
column, and lists each record about the person with what a run would do (status, due
now, next action and its date, missing facts, holds). Record keys are not printed.

Example:
  retention subject --config demo/config.yaml --subject 1850575123456 --format html --out person.html)");
  cmd->callback([o, set_action] { set_action([o] { return RunSubject(*o); }); });
}

}  // namespace retention::cli
