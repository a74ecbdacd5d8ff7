// train/loss_history.hpp — a run's loss history as it leaves the loop: loss.csv and loss.png
// in the output folder, and the "history" metadata of the checkpoint (read back, checked, by
// train/checkpoint.hpp's parse_training_history) (private to src/train).
#pragma once
#include <string>
#include <vector>

#include "attend/train/checkpoint.hpp"

namespace attend {

// out/loss.csv (step,train_loss,val_loss,lr) and out/loss.png, each written atomically.
void write_history(const std::string& out, const std::vector<HistoryRow>& rows);
// [[step, train, val or null, lr], ...]
std::string history_json(const std::vector<HistoryRow>& rows);

}  // namespace attend
