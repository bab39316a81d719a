// A program with its own store type: registers the built-in connectors and the JSON-lines
// one, opens the deployment (the configuration binds a rule to a "jsonl" store), then
// plans or runs exactly as `retention plan` / `retention run` do.
//   custom_connector CONFIG plan|run AS_OF
#include <iostream>
#include <string>

#include "jsonl_connector.h"
#include "retention/connectors.h"
#include "retention/open.h"
#include "retention/run.h"

int main(int argc, char** argv) {
  if (argc != 4 || (std::string(argv[2]) != "plan" && std::string(argv[2]) != "run")) {
    std::cerr << "usage: custom_connector CONFIG plan|run AS_OF\n";
    return 2;
  }
  bool run = std::string(argv[2]) == "run";
  auto as_of = retention::Date::Parse(argv[3]);
  if (!as_of) {
    std::cerr << "AS_OF must be YYYY-MM-DD\n";
    return 2;
  }

  retention::ConnectorRegistry registry;
  retention::RegisterBuiltinConnectors(registry);
  example::RegisterJsonLinesConnector(registry);

  retention::OpenOptions options;
  options.config = argv[1];
  options.policies_dir = RETENTION_POLICIES_DIR;  // the installed policies (CMake: retention_POLICIES_DIR)
  options.registry = &registry;
  options.state = run ? retention::OpenOptions::State::kRequired : retention::OpenOptions::State::kIfExists;
  retention::OpenResult opened = retention::OpenDeployment(options);
  for (const auto& d : opened.diagnostics) std::cerr << d.ToString() << "\n";
  if (!opened.opened) {
    std::cerr << opened.status.message() << "\n";
    return 2;
  }
  retention::OpenedDeployment& d = *opened.opened;

  retention::RunOptions run_options;
  run_options.as_of = *as_of;
  run_options.apply = run;
  run_options.full_scan = !run;
  auto outcome = retention::PlanOrRun(d.deployment, d.policies, *d.stores, d.state ? &*d.state : nullptr, run_options);
  if (!outcome.ok()) {
    std::cerr << outcome.status().message() << "\n";
    return 1;
  }
  std::cout << retention::PlanToText(outcome->plan);
  return outcome->guard_tripped ? 3 : 0;
}
