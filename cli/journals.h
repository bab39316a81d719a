// `audit verify` first records what an interrupted run changed but never audited
// (retention/recover.h), when the stores can be opened and no run is under way.
#pragma once

#include <string>

#include "deployment_loader.h"

namespace retention::cli {

// Prints what was recorded, or why the journals were not checked; never fails the
// command (verification goes on either way).
void RecoverJournalsBeforeVerify(OpenedDeployment& loaded);

}  // namespace retention::cli
