// train/output_folder.hpp — the --out folder of a training run, owned for the run's life.
//
// Two runs writing into one folder at once would leave one run's model beside the other's
// tokenizer, so a run holds an exclusive flock on the folder itself (not on a lock file:
// nothing is left behind, and no inode can be swapped under it) from start to end; the kernel
// drops it when the process ends, however it ends. A second run fails at once, naming the
// holder's pid (read from /proc/locks). Under the lock, the temporaries a killed writer left
// (core/atomic_file.hpp) are removed.
//
// A fresh run (not --resume) refuses a folder that holds a run's files (run_files()) unless
// told to overwrite, which removes them first. A fresh run that fails before its first
// checkpoint takes back what it added (and the folder, when it created it): a failed start
// leaves nothing behind. Private to src/train.
#pragma once
#include <set>
#include <string>
#include <vector>

namespace attend {

class OutputFolder {
public:
    // Creates the folder (and missing parents) when needed, locks it, removes stale
    // temporaries. Throws an Error naming the folder (and the holder's pid when locked).
    explicit OutputFolder(const std::string& path);
    ~OutputFolder();  // releases the lock
    OutputFolder(const OutputFolder&) = delete;
    OutputFolder& operator=(const OutputFolder&) = delete;

    // For a fresh run: an Error listing the run files present, unless `overwrite` (they are
    // removed). Records what the folder holds then, for discard_additions.
    void claim_for_fresh_run(bool overwrite);
    // Removes every entry added since claim_for_fresh_run, then the folders this object
    // created when they are empty. Never throws (it runs while an error is on its way out).
    void discard_additions() noexcept;

    // The names a training run writes into its folder (train/trainer.hpp's list).
    static const std::vector<std::string>& run_files();

private:
    std::string path_;
    int fd_ = -1;
    std::vector<std::string> created_;  // folders made here, deepest first
    std::set<std::string> before_;      // the entries before the run
};

}  // namespace attend
