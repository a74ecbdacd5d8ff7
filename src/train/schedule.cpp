// train/schedule.cpp — linear warm-up, then cosine decay to min_lr (nanoGPT's get_lr).
//
//   step < warmup:            lr · (step + 1) / (warmup + 1)
//   warmup ≤ step ≤ decay:    min_lr + ½(1 + cos(π·r))·(lr − min_lr),  r = (step − warmup) / (decay − warmup)
//   step > decay:             min_lr
#include <cmath>

#include "attend/train/optimizer.hpp"

namespace attend {

float LrSchedule::at(int64_t step) const {
    if (step < warmup) return float(double(lr) * double(step + 1) / double(warmup + 1));
    if (step > decay_steps || decay_steps <= warmup) return min_lr;
    const double ratio = double(step - warmup) / double(decay_steps - warmup);
    const double coeff = 0.5 * (1.0 + std::cos(M_PI * ratio));
    return float(double(min_lr) + coeff * (double(lr) - double(min_lr)));
}

}  // namespace attend
