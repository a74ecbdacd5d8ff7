// train/progress.cpp — the progress bar and lines of a training run (train/progress.hpp).
#include "train/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace attend {

namespace {

using Clock = std::chrono::steady_clock;

std::string duration(double s) {
    char buf[32];
    if (!std::isfinite(s) || s < 0) return "?";
    const long t = long(s + 0.5);
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%lds", t);
    return buf;
}

}  // namespace

Progress::Progress(const TrainOptions& o, int64_t first_step, int64_t last_step, int64_t tokens_per_step)
    : quiet_(o.quiet), first_(first_step), last_(last_step), tokens_per_step_(tokens_per_step) {
    bar_ = o.progress == 1 || (o.progress == -1 && ::isatty(STDERR_FILENO));
    every_ = std::max<int64_t>(1, (last_step - first_step) / 20);
    start_ = Clock::now();
}

void Progress::step(int64_t step, float loss, float lr) {
    if (quiet_) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double done = double(step - first_);
    const double tok_s = done * double(tokens_per_step_) / std::max(elapsed, 1e-9);
    const double eta = done > 0 ? elapsed / done * double(last_ - step) : NAN;
    if (bar_) {
        const int width = 24, filled = int(width * double(step) / double(std::max<int64_t>(last_, 1)));
        std::string bar(size_t(filled), '#');
        bar.resize(width, '-');
        std::fprintf(stderr, "\r\033[Kstep %lld/%lld [%s] loss %.4f | lr %.2e | %.0f tok/s | ETA %s",
                     (long long)step, (long long)last_, bar.c_str(), loss, lr, tok_s, duration(eta).c_str());
        std::fflush(stderr);
        dirty_ = true;
    } else if ((step - first_) % every_ == 0 || step == last_) {
        std::fprintf(stderr, "step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  elapsed %s  ETA %s\n",
                     (long long)step, (long long)last_, loss, lr, tok_s, duration(elapsed).c_str(),
                     duration(eta).c_str());
    }
}

void Progress::line(const std::string& text) {
    if (quiet_) return;
    if (dirty_) std::fputc('\n', stderr), dirty_ = false;
    std::fprintf(stderr, "%s\n", text.c_str());
}

void Progress::finish() {
    if (dirty_ && !quiet_) std::fputc('\n', stderr);
    dirty_ = false;
}

}  // namespace attend
