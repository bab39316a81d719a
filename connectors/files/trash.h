// The files store's trash: files have no transaction, so a batch first moves each file
// it deletes (or whose archive copy it made) into `.retention-trash/<run>/<n>/` under the
// store's root, on the same filesystem (one atomic renameat each, never across a link),
// after writing there a journal of the keys it is about to move. The caller records the
// batch, then Confirm() unlinks the trash. A run that crashed in between leaves the batch
// in the trash: Recover() lists the files it moved (those of the journal whose trash
// entry exists), which are gone from the store but may be unrecorded.
//
// Layout of one batch directory (0700): `journal` (0600; renamed `journal.confirmed`
// once the caller recorded the batch), and the moved files named `0`, `1`, ... after
// their line in the journal:
//   retention-trash 1
//   run <run id>
//   binding <binding name>
//   action delete|archive
//   file <n> <key>
// Every value is Escape()d (dir.h), so keys with newlines or any bytes stay one line.
#pragma once

#include <string>
#include <vector>

#include "files/dir.h"
#include "retention/connector.h"

namespace retention::files {

inline constexpr char kTrashDir[] = ".retention-trash";

// One file to move: the entry `name` of the open directory `dir`, which must still be `id`.
struct TrashMove {
  std::string key;
  int dir = -1;
  std::string name;
  FileId id;
};

class Trash {
 public:
  explicit Trash(int root) : root_(root) {}

  // Journals and moves `moves` into a new batch of run `run_id`; each key ends up in
  // `moved` or in `failed`. Returns the batch id (for Confirm). `owner`: StagedBatch::owner.
  Result<std::string> Stage(const std::string& run_id, const std::string& owner, const std::string& binding, Phase action,
                            const std::vector<TrashMove>& moves, std::vector<std::string>* moved,
                            std::vector<ApplyFailure>* failed);
  // Marks the batch recorded, then unlinks its files. A batch already gone is fine.
  Status Confirm(const std::string& id);
  // The unconfirmed batches left in the trash; confirmed ones are finished on the way.
  Result<std::vector<StagedBatch>> Recover();

 private:
  Result<Fd> OpenBatch(const std::string& id);
  Result<std::optional<StagedBatch>> ReadBatch(int batch_dir, const std::string& id);

  int root_;
};

}  // namespace retention::files
