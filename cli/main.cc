// retention: the command line over the retention::engine library.
#include <exception>
#include <iostream>

#include "commands.h"
#include "common.h"

int main(int argc, char** argv) {
  using namespace retention::cli;
  CLI::App app{"retention: executable data-retention policies (plan, run, explain, audit)", "retention"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return VersionText("retention", ""); },
                       "Print the version and the policy set's hash ($RETENTION_POLICIES, else ./policies), then exit");
  app.footer("Run `retention COMMAND --help` for each command's options and examples.");
  std::function<int()> action;
  SetAction set_action = [&](std::function<int()> a) { action = std::move(a); };
  AddExplainCommand(app, set_action);
  AddPoliciesCommand(app, set_action);
  AddPlanRunCommands(app, set_action);
  AddHoldCommand(app, set_action);
  AddAuditCommand(app, set_action);
  AddRunsCommand(app, set_action);
  AddDemoCommand(app, set_action);
  AddReportCommands(app, set_action);
  try {
    app.parse(argc, argv);
    return action ? action() : kExitOk;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  } catch (const Exit& e) {
    if (!e.message.empty()) std::cerr << "retention: " << e.message << "\n";
    return e.code;
  } catch (const std::exception& e) {  // last resort: a message and exit 1, never an abort
    std::cerr << "retention: internal error: " << e.what() << "\n";
    return kExitFailed;
  } catch (...) {
    std::cerr << "retention: internal error\n";
    return kExitFailed;
  }
}
