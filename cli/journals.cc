#include "journals.h"

#include <iostream>

#include <fmt/format.h>

#include "retention/connectors.h"
#include "retention/recover.h"

namespace retention::cli {

void RecoverJournalsBeforeVerify(OpenedDeployment& loaded) {
  ConnectorRegistry registry;
  RegisterBuiltinConnectors(registry);
  auto stores = Stores::Open(loaded.deployment, registry);
  if (!stores.ok()) {
    std::cout << "journals not checked: " << stores.status().message() << "\n";
    return;
  }
  StateDb& state = *loaded.state;
  if (Status s = state.LockForRun(); !s.ok()) {
    std::cout << "journals not checked: a run is under way\n";
    return;
  }
  auto r = RecoverInterruptedBatches(loaded.deployment, *stores, &state, loaded.policies.hash);
  state.Unlock();
  if (!r.ok()) std::cout << "journals not checked: " << r.status().message() << "\n";
  else {
    if (r->recorded > 0)
      std::cout << fmt::format("recorded {} batch(es), {} record(s), changed by an interrupted run\n", r->recorded,
                               r->records);
    if (r->foreign > 0)
      std::cout << fmt::format("{} interrupted batch(es) of another deployment sharing a store: left for it\n",
                               r->foreign);
  }
}

}  // namespace retention::cli
