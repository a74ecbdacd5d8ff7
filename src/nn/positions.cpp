// nn/positions.cpp — sinusoidal and learned positions, and RoPE with its backward.
//
// Sinusoidal (Vaswani et al. 2017, §3.5):
//   PE(pos, 2i) = sin(pos · ω_i),  PE(pos, 2i+1) = cos(pos · ω_i),  ω_i = base^{−2i/d}
//
// RoPE (Su et al. 2021), per head, pair i of D/2 with φ = pos · θ^{−2i/D}:
//   forward   (a, b) -> (a cos φ − b sin φ,  a sin φ + b cos φ)     rotation by +φ
//   backward (ga, gb) -> (ga cos φ + gb sin φ, −ga sin φ + gb cos φ)  rotation by −φ (Rᵀ = R⁻¹)
// Pair i is (2i, 2i+1) in the interleaved layout, (i, i + D/2) in the rotate_half layout.
//
// Angles are formed in double from the integer position (pos · ω_i with ω_i in double) and
// cos/sin rounded to float once, so the table and the on-the-spot values agree bit for bit
// and a position of 10⁵ keeps its phase.
#include "attend/nn/positions.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/profile.hpp"
#include "core/parallel_loop.hpp"

namespace attend {

namespace {

// cos/sin(pos · ω_i) for i in [0, D/2), times `scale` (longrope's attention factor; 1 otherwise).
void rope_angles(int64_t pos, const std::vector<double>& omega, double scale, float* cos_row, float* sin_row) {
    for (size_t i = 0; i < omega.size(); ++i) {
        const double phi = double(pos) * omega[i];
        cos_row[i] = float(std::cos(phi) * scale);
        sin_row[i] = float(std::sin(phi) * scale);
    }
}

// ω_i = θ^{−2i/D}, then rope_scaling's change of them (nn/block_config.hpp). `long_factors`
// picks longrope's long list instead of the short one.
std::vector<double> rope_frequencies(int64_t D, double theta, const RopeScaling& r, bool long_factors) {
    std::vector<double> omega(size_t(D / 2));
    for (int64_t i = 0; i < D / 2; ++i) omega[i] = std::pow(theta, -double(2 * i) / double(D));
    switch (r.rope_type) {
        case RopeScalingType::none: break;
        case RopeScalingType::linear:
            for (double& w : omega) w /= r.factor;
            break;
        case RopeScalingType::llama3: {
            const double L = double(r.original_max_position_embeddings), low = r.low_freq_factor,
                         high = r.high_freq_factor;
            const double low_wavelength = L / low, high_wavelength = L / high;
            for (double& w : omega) {
                const double wavelength = 2.0 * std::numbers::pi / w;
                if (wavelength < high_wavelength) continue;  // high frequencies: as trained
                if (wavelength > low_wavelength) {
                    w /= r.factor;  // low frequencies: interpolated
                } else {
                    const double smooth = (L / wavelength - low) / (high - low);
                    w = (1.0 - smooth) * w / r.factor + smooth * w;
                }
            }
            break;
        }
        case RopeScalingType::longrope: {
            const std::vector<float>& f = long_factors ? r.long_factor : r.short_factor;
            ATTEND_CHECK(f.size() == omega.size(), "longrope needs ", omega.size(), " factors for head dim ", D,
                         ", got ", f.size());
            for (size_t i = 0; i < omega.size(); ++i) omega[i] /= double(f[i]);
            break;
        }
    }
    return omega;
}

// Per (b, t) row of x: the cos and sin of its position, (B·T, D/2) each.
struct RowAngles {
    std::vector<float> cos, sin;
};

// y = R(±φ) x for x (B, H, T, D) contiguous; sign = +1 forward, −1 backward.
void rotate(const float* x, float* y, int64_t B, int64_t H, int64_t T, int64_t D, const RowAngles& angles,
            RopeLayout layout, float sign) {
    const int64_t half = D / 2;
    // The two members of pair i sit at i·step_pair and i·step_pair + partner.
    const int64_t step_pair = layout == RopeLayout::interleaved ? 2 : 1;
    const int64_t partner = layout == RopeLayout::interleaved ? 1 : half;
    parallel_loop(B * H * T, B * H * T * D, [&](int64_t row) {  // row = (b, h, t)
        const int64_t t = row % T, b = row / (H * T);
        const float* c = angles.cos.data() + (b * T + t) * half;
        const float* s = angles.sin.data() + (b * T + t) * half;
        const float* xr = x + row * D;
        float* yr = y + row * D;
        for (int64_t i = 0; i < half; ++i) {
            const int64_t i0 = i * step_pair, i1 = i0 + partner;
            const float a = xr[i0], bb = xr[i1], si = sign * s[i];
            yr[i0] = a * c[i] - bb * si;
            yr[i1] = a * si + bb * c[i];
        }
    });
}

void check_rope_input(const Tensor& x, int64_t head_dim) {
    ATTEND_CHECK(x.defined() && x.dim() == 4, "RoPE expects x (B, H, T, D), got ",
                 x.defined() ? to_string(x.shape()) : "(undefined)");
    ATTEND_CHECK(x.size(3) % 2 == 0 && x.size(3) > 0, "RoPE needs an even head dim D, got x ", to_string(x.shape()));
    ATTEND_CHECK(head_dim == 0 || x.size(3) == head_dim, "RoPE was built for head dim ", head_dim, ", got x ",
                 to_string(x.shape()));
}

void check_positions(const Int64List& positions, int64_t B, int64_t T) {
    ATTEND_CHECK(int64_t(positions.size()) == B * T, "RoPE: ", positions.size(), " positions given for B·T = ", B,
                 "·", T, " = ", B * T, " tokens");
    for (size_t n = 0; n < positions.size(); ++n)
        ATTEND_CHECK(positions[n] >= 0, "RoPE: position ", positions[n], " of token ", n, " is negative");
}

// Where the angles of a call go. A backward keeps them, so a recorded call gets its own; a
// call nothing records (decoding) refills one set per thread, its vectors' room kept, so a
// step allocates nothing for them.
std::shared_ptr<RowAngles> angles_for_call(bool recorded) {
    if (recorded) return std::make_shared<RowAngles>();
    thread_local std::shared_ptr<RowAngles> reused;
    if (!reused || reused.use_count() > 1) reused = std::make_shared<RowAngles>();
    return reused;
}

// The differentiable op: rotate by +φ, backward by −φ, angles shared by both.
Tensor rope_op(const Tensor& x_in, std::shared_ptr<const RowAngles> angles, RopeLayout layout) {
    const Tensor x = x_in.contiguous();
    const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
    Tensor y = Tensor::empty(x.shape());  // (B, H, T, D)
    rotate(x.data(), y.data(), B, H, T, D, *angles, layout, +1.f);
    return record(y, "rope", {x_in}, [angles, layout](const Tensor& g_in) {
        const Tensor g = g_in.contiguous();
        Tensor dx = Tensor::empty(g.shape());
        rotate(g.data(), dx.data(), g.size(0), g.size(1), g.size(2), g.size(3), *angles, layout, -1.f);
        return std::vector<Tensor>{dx};
    });
}

}  // namespace

Int64List position_ids(int64_t B, int64_t T, const std::vector<int64_t>& offsets,
                                  const std::vector<int64_t>& lengths) {
    ATTEND_CHECK(B >= 0 && T >= 0, "position_ids: B and T must be ≥ 0, got B=", B, " T=", T);
    ATTEND_CHECK(offsets.empty() || int64_t(offsets.size()) == B, "position_ids: ", offsets.size(),
                 " offsets given for a batch of ", B);
    ATTEND_CHECK(lengths.empty() || int64_t(lengths.size()) == B, "position_ids: ", lengths.size(),
                 " lengths given for a batch of ", B);
    Int64List ids(size_t(B * T));  // inline for a decoding step: no allocation
    for (int64_t b = 0; b < B; ++b) {
        const int64_t offset = offsets.empty() ? 0 : offsets[b];
        ATTEND_CHECK(offset >= 0, "position_ids: offset ", offset, " of sequence ", b, " is negative");
        const int64_t real = lengths.empty() ? T : lengths[size_t(b)];
        for (int64_t t = 0; t < T; ++t) ids[b * T + t] = offset + (t < real ? t : 0);
    }
    return ids;
}

Tensor sinusoidal_table(int64_t n_positions, int64_t dim, double base) {
    ATTEND_CHECK(n_positions >= 0 && dim > 0, "sinusoidal_table needs n_positions ≥ 0 and dim > 0, got ",
                 n_positions, " and ", dim);
    Tensor table = Tensor::empty({n_positions, dim});  // (P, d)
    float* p = table.data();
    for (int64_t pos = 0; pos < n_positions; ++pos)
        for (int64_t c = 0; c < dim; ++c) {
            const int64_t i = c / 2;  // columns 2i and 2i+1 share ω_i
            const double phi = double(pos) * std::pow(base, -double(2 * i) / double(dim));
            p[pos * dim + c] = float(c % 2 == 0 ? std::sin(phi) : std::cos(phi));
        }
    return table;
}

SinusoidalPositions::SinusoidalPositions(int64_t max_positions, int64_t dim)
    : table(sinusoidal_table(max_positions, dim)) {}

Tensor SinusoidalPositions::forward(int64_t B, int64_t T, const std::vector<int64_t>& offsets,
                                    const std::vector<int64_t>& lengths) const {
    ATTEND_CHECK(table.defined(), "this SinusoidalPositions was never constructed");
    const Int64List ids = position_ids(B, T, offsets, lengths);
    for (int64_t id : ids)
        ATTEND_CHECK(id < table.size(0), "position ", id, " is beyond the sinusoidal table's ", table.size(0),
                     " positions (max_positions)");
    return embedding(table, ids, {B, T});  // the table needs no gradient: nothing is recorded
}

LearnedPositions::LearnedPositions(int64_t max_positions, int64_t dim, ParameterInit init, float stddev)
    : embedding(max_positions, dim, init, stddev) {}

Tensor LearnedPositions::forward(int64_t B, int64_t T, const std::vector<int64_t>& offsets,
                                 const std::vector<int64_t>& lengths) const {
    const Int64List ids = position_ids(B, T, offsets, lengths);
    for (int64_t id : ids)
        ATTEND_CHECK(id < embedding.num_embeddings(), "position ", id, " is beyond the ", embedding.num_embeddings(),
                     " learned positions (max_positions)");
    return embedding.forward(ids, {B, T});
}

void LearnedPositions::collect_parameters(const std::string& prefix, NamedParameters& out) {
    embedding.collect_parameters(prefix, out);
}

RotaryEmbedding::RotaryEmbedding(int64_t head_dim, float theta, RopeLayout layout, int64_t max_positions,
                                 const RopeScaling& scaling)
    : head_dim_(head_dim),
      theta_(theta),
      layout_(layout),
      n_cached_(std::min<int64_t>(std::max<int64_t>(max_positions, 0), kMaxCachedPositions)) {
    ATTEND_CHECK(head_dim > 0 && head_dim % 2 == 0, "RoPE needs an even, positive head dim, got ", head_dim);
    ATTEND_CHECK(theta > 0.f && std::isfinite(theta), "RoPE theta must be positive and finite, got ", theta);
    omega_ = rope_frequencies(head_dim, theta, scaling, false);
    if (scaling.rope_type == RopeScalingType::longrope) {
        long_omega_ = rope_frequencies(head_dim, theta, scaling, true);
        long_after_ = scaling.original_max_position_embeddings;
        scale_ = scaling.attention_factor;
    }
    const int64_t half = head_dim / 2;
    cos_.resize(size_t(n_cached_ * half));
    sin_.resize(size_t(n_cached_ * half));
    for (int64_t pos = 0; pos < n_cached_; ++pos)
        rope_angles(pos, omega_, scale_, cos_.data() + pos * half, sin_.data() + pos * half);
}

Tensor RotaryEmbedding::forward(const Tensor& x, const std::vector<int64_t>& offsets) const {
    check_rope_input(x, head_dim_);
    return forward_at(x, position_ids(x.size(0), x.size(2), offsets));
}

Tensor RotaryEmbedding::forward_at(const Tensor& x, const Int64List& positions) const {
    const ProfileScope op_scope("rope");  // an op of its own (recorded on the tape as "rope")
    check_rope_input(x, head_dim_);
    const int64_t B = x.size(0), T = x.size(2), half = head_dim_ / 2;
    check_positions(positions, B, T);
    const std::shared_ptr<RowAngles> angles = angles_for_call(needs_grad({x}));
    angles->cos.resize(size_t(B * T * half));
    angles->sin.resize(size_t(B * T * half));
    for (int64_t b = 0; b < B; ++b) {
        // longrope: a sequence whose call reaches past original_max_position_embeddings turns
        // with the long factors, all of this call's tokens alike (HF decides per forward by
        // max(position_ids) + 1; per sequence here, so batch-mates do not change each other).
        bool use_long = false;
        if (long_after_ > 0)
            for (int64_t t = 0; t < T; ++t) use_long = use_long || positions[b * T + t] + 1 > long_after_;
        for (int64_t t = 0; t < T; ++t) {
            const int64_t n = b * T + t, pos = positions[n];
            float* c = angles->cos.data() + n * half;
            float* s = angles->sin.data() + n * half;
            if (!use_long && pos < n_cached_) {
                std::copy_n(cos_.data() + pos * half, half, c);
                std::copy_n(sin_.data() + pos * half, half, s);
            } else {
                rope_angles(pos, use_long ? long_omega_ : omega_, scale_, c, s);
            }
        }
    }
    return rope_op(x, std::move(angles), layout_);
}

Tensor apply_rope(const Tensor& x, float theta, RopeLayout layout, const std::vector<int64_t>& offsets) {
    check_rope_input(x, 0);
    return RotaryEmbedding(x.size(3), theta, layout).forward(x, offsets);
}

Tensor apply_rope_at(const Tensor& x, const Int64List& positions, float theta, RopeLayout layout) {
    check_rope_input(x, 0);
    return RotaryEmbedding(x.size(3), theta, layout).forward_at(x, positions);
}

}  // namespace attend
