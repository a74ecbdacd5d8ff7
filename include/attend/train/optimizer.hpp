// train/optimizer.hpp — AdamW, the learning-rate schedule and gradient clipping.
//
// AdamW (Loshchilov & Hutter 2019), with torch.optim.AdamW's arithmetic, per parameter p
// with gradient g at step t (counted from 1):
//   p ← p − lr·wd·p                                    (decoupled decay, before the Adam step)
//   m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²
//   p ← p − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)  (ε outside the square root)
// Parameter groups as GPT-2/nanoGPT: only matrices (≥ 2-D) that are not embeddings decay;
// biases, norms and embedding tables (token, position, token type) do not.
//
// Implemented in src/train/adamw.cpp and src/train/schedule.cpp.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "attend/nn/module.hpp"
#include "attend/tensor.hpp"

namespace attend {

struct AdamWOptions {
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.01f;
};

// True when the parameter `name` of shape p.shape() takes weight decay (≥ 2-D, not an embedding).
bool takes_weight_decay(const std::string& name, const Tensor& p);

class AdamW {
public:
    AdamW(NamedParameters params, AdamWOptions options = {});

    // One update at learning rate `lr` from the parameters' current .grad (a parameter without
    // a gradient is left alone, its moments too, as torch does).
    void step(float lr);
    void zero_grad();

    int64_t steps() const { return step_; }
    const NamedParameters& parameters() const { return params_; }
    const AdamWOptions& options() const { return options_; }

    // {"m.<name>", "v.<name>"} for every parameter, and "step" (a 1-element tensor holding the
    // step count; exact below 2²⁴). load_state checks every name and shape before writing.
    std::map<std::string, Tensor> state() const;
    void load_state(const std::map<std::string, Tensor>& state);

private:
    NamedParameters params_;
    AdamWOptions options_;
    std::vector<Tensor> m_, v_;
    std::vector<bool> decay_;
    int64_t step_ = 0;
};

// Scales every gradient by min(1, max_norm / ‖g‖) where ‖g‖ is the global L2 norm over all of
// them (torch.nn.utils.clip_grad_norm_); returns ‖g‖ before clipping. max_norm ≤ 0: no clipping.
float clip_grad_norm(const NamedParameters& params, float max_norm);

// nanoGPT's get_lr: linear warm-up lr·(step+1)/(warmup+1) for step < warmup, then cosine decay
// from lr to min_lr over [warmup, decay_steps], then min_lr. `step` counts from 0.
struct LrSchedule {
    float lr = 1e-3f;
    float min_lr = 1e-4f;
    int64_t warmup = 0;
    int64_t decay_steps = 0;  // usually the total number of steps
    float at(int64_t step) const;
};

}  // namespace attend
