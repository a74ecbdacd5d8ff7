// train/progress.hpp — the training run's progress on stderr: a live bar on a terminal
// (redrawn in place with \r), periodic plain lines otherwise (private to src/train).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "attend/train/train_options.hpp"

namespace attend {

class Progress {
public:
    // Steps [first_step, last_step); `options` says quiet, bar or lines (TrainOptions::progress).
    Progress(const TrainOptions& options, int64_t first_step, int64_t last_step, int64_t tokens_per_step);
    void step(int64_t step, float loss, float lr);  // `step` steps done
    void line(const std::string& text);             // a message that must stay on screen
    void finish();                                  // ends a bar's line

private:
    bool quiet_, bar_ = false, dirty_ = false;
    int64_t first_, last_, tokens_per_step_, every_ = 1;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace attend
