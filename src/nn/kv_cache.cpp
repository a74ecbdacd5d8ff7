// nn/kv_cache.cpp — per-sequence key/value buffers for incremental decoding (see
// nn/kv_cache.hpp for the step protocol and the masking it implies).
#include "attend/nn/kv_cache.hpp"

#include <algorithm>
#include <cstring>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/profile.hpp"

namespace attend {

KVCache::KVCache(int64_t n_layers, int64_t batch, int64_t n_kv_heads, int64_t head_dim, int64_t capacity)
    : batch_(batch), n_kv_heads_(n_kv_heads), head_dim_(head_dim), capacity_(capacity) {
    ATTEND_CHECK(n_layers > 0 && batch > 0 && n_kv_heads > 0 && head_dim > 0 && capacity > 0,
                 "KVCache needs positive sizes, got n_layers=", n_layers, " batch=", batch, " n_kv_heads=",
                 n_kv_heads, " head_dim=", head_dim, " capacity=", capacity);
    for (int64_t l = 0; l < n_layers; ++l) {
        k_.push_back(Tensor::zeros({batch, n_kv_heads, capacity, head_dim}));
        v_.push_back(Tensor::zeros({batch, n_kv_heads, capacity, head_dim}));
    }
    cross_k_.resize(size_t(n_layers));
    cross_v_.resize(size_t(n_layers));
    lengths_.assign(size_t(batch), 0);
    appended_.assign(size_t(n_layers), false);
}

void KVCache::check_layer(int64_t layer, const char* what) const {
    ATTEND_CHECK(layer >= 0 && layer < n_layers(), what, ": layer ", layer, " is outside the cache's ", n_layers(),
                 " layers");
}

void KVCache::begin_step(int64_t Tq, const std::vector<int64_t>& n_new) {
    ATTEND_CHECK(!in_step_, "a step is already open (call end_step() after every layer appended)");
    ATTEND_CHECK(Tq > 0, "a step needs at least one query row, got Tq=", Tq);
    ATTEND_CHECK(n_new.empty() || int64_t(n_new.size()) == batch_, "n_new has ", n_new.size(),
                 " entries for a cache of ", batch_, " sequences");
    std::vector<int64_t> counts = n_new.empty() ? std::vector<int64_t>(size_t(batch_), Tq) : n_new;
    for (int64_t b = 0; b < batch_; ++b) {
        ATTEND_CHECK(counts[b] >= 0 && counts[b] <= Tq, "n_new[", b, "] = ", counts[b], " is outside [0, Tq=", Tq,
                     "]");
        ATTEND_CHECK(lengths_[b] + counts[b] <= capacity_, "sequence ", b, " holds ", lengths_[b],
                     " tokens; adding ", counts[b], " exceeds the cache capacity of ", capacity_);
    }
    in_step_ = true;
    step_tq_ = Tq;
    offsets_ = lengths_;
    n_new_ = std::move(counts);
    std::fill(appended_.begin(), appended_.end(), false);
    mask_ = build_mask();  // once per step, shared by every layer
}

AttentionMask KVCache::step_mask() const {
    ATTEND_CHECK(in_step_, "no step is open (call begin_step first)");
    return mask_;
}

AttentionMask KVCache::build_mask() const {
    AttentionMask mask;
    mask.key_lengths.resize(size_t(batch_));
    for (int64_t b = 0; b < batch_; ++b) mask.key_lengths[b] = offsets_[b] + n_new_[b];
    // Query i of sequence b sits at offsets[b] + i and sees keys j ≤ offsets[b] + i: causal
    // from per-sequence offsets, a contiguous key range per row, so the fused kernel skips
    // whole tiles past it (a boolean mask would cost a lookup per score and skip nothing).
    mask.causal = true;
    mask.query_offsets = offsets_;
    return mask;
}

KVCache::View KVCache::append(int64_t layer, const Tensor& k_new_in, const Tensor& v_new_in) {
    const ProfileScope op_scope("kv_cache append");  // copying the new keys and values in
    check_layer(layer, "KVCache::append");
    ATTEND_CHECK(in_step_, "KVCache::append outside a step (call begin_step first)");
    ATTEND_CHECK(!appended_[layer], "layer ", layer, " already appended in this step");
    const Shape expected{batch_, n_kv_heads_, step_tq_, head_dim_};
    ATTEND_CHECK(k_new_in.defined() && k_new_in.shape() == expected && v_new_in.defined() &&
                     v_new_in.shape() == expected,
                 "new keys and values must be (B, Hkv, Tq, Dh) = ", to_string(expected), ", got k ",
                 k_new_in.defined() ? to_string(k_new_in.shape()) : "(undefined)", " and v ",
                 v_new_in.defined() ? to_string(v_new_in.shape()) : "(undefined)");
    NoGradGuard no_grad;  // the buffers hold values, not history
    const Tensor k_new = k_new_in.contiguous(), v_new = v_new_in.contiguous();
    const int64_t H = n_kv_heads_, Tq = step_tq_, D = head_dim_, cap = capacity_;
    for (auto [src, dst] : {std::pair{k_new.data(), k_[layer].data()}, std::pair{v_new.data(), v_[layer].data()}})
        for (int64_t b = 0; b < batch_; ++b)
            for (int64_t h = 0; h < H; ++h)
                if (n_new_[b] > 0)
                    std::memcpy(dst + ((b * H + h) * cap + offsets_[b]) * D, src + ((b * H + h) * Tq) * D,
                                sizeof(float) * size_t(n_new_[b] * D));
    appended_[layer] = true;
    return {k_[layer], v_[layer], mask_};
}

void KVCache::end_step() {
    ATTEND_CHECK(in_step_, "KVCache::end_step without a step (call begin_step first)");
    for (int64_t l = 0; l < n_layers(); ++l)
        ATTEND_CHECK(appended_[l], "KVCache::end_step: layer ", l, " of ", n_layers(),
                     " did not append this step");
    for (int64_t b = 0; b < batch_; ++b) lengths_[b] += n_new_[b];
    in_step_ = false;
    mask_ = AttentionMask();
}

void KVCache::cancel_step() {
    in_step_ = false;
    mask_ = AttentionMask();
}

bool KVCache::has_cross(int64_t layer) const {
    check_layer(layer, "KVCache::has_cross");
    return cross_k_[layer].defined();
}

void KVCache::set_cross(int64_t layer, const Tensor& k, const Tensor& v) {
    check_layer(layer, "KVCache::set_cross");
    ATTEND_CHECK(k.defined() && v.defined() && k.dim() == 4 && k.size(0) == batch_ && v.dim() == 4 &&
                     v.size(0) == batch_ && k.size(2) == v.size(2),
                 "cross keys and values must be (B=", batch_, ", Hkv, S, Dh) with one S, got k ",
                 k.defined() ? to_string(k.shape()) : "(undefined)", " and v ",
                 v.defined() ? to_string(v.shape()) : "(undefined)");
    cross_k_[layer] = k.detach().contiguous();
    cross_v_[layer] = v.detach().contiguous();
}

const Tensor& KVCache::cross_k(int64_t layer) const {
    check_layer(layer, "KVCache::cross_k");
    return cross_k_[layer];
}

const Tensor& KVCache::cross_v(int64_t layer) const {
    check_layer(layer, "KVCache::cross_v");
    return cross_v_[layer];
}

void KVCache::reset() {
    ATTEND_CHECK(!in_step_, "KVCache::reset during an open step");
    std::fill(lengths_.begin(), lengths_.end(), 0);
    for (auto& t : cross_k_) t = Tensor();
    for (auto& t : cross_v_) t = Tensor();
}

void KVCache::reset(int64_t b) {
    ATTEND_CHECK(!in_step_, "KVCache::reset during an open step");
    ATTEND_CHECK(b >= 0 && b < batch_, "KVCache::reset: sequence ", b, " is outside the batch of ", batch_);
    lengths_[b] = 0;
}

void KVCache::reorder(const std::vector<int64_t>& rows) {
    ATTEND_CHECK(!in_step_, "KVCache::reorder during an open step");
    ATTEND_CHECK(int64_t(rows.size()) == batch_, "KVCache::reorder needs one source row per sequence (",
                 batch_, "), got ", rows.size());
    for (int64_t r : rows)
        ATTEND_CHECK(r >= 0 && r < batch_, "KVCache::reorder: row ", r, " is outside the batch of ", batch_);
    // Gather into fresh buffers: a row may be both read and overwritten (a permutation).
    auto gather = [&](const Tensor& t) {  // (B, ...) -> (B, ...) with row b = t[rows[b]]
        const Tensor src = t.contiguous();
        Tensor dst = Tensor::zeros(src.shape());
        const int64_t row = src.numel() / batch_;
        for (int64_t b = 0; b < batch_; ++b)
            std::memcpy(dst.data() + b * row, src.data() + rows[b] * row, sizeof(float) * size_t(row));
        return dst;
    };
    NoGradGuard no_grad;
    for (int64_t l = 0; l < n_layers(); ++l) {
        k_[l] = gather(k_[l]), v_[l] = gather(v_[l]);
        if (cross_k_[l].defined()) cross_k_[l] = gather(cross_k_[l]), cross_v_[l] = gather(cross_v_[l]);
    }
    std::vector<int64_t> lengths;
    for (int64_t b = 0; b < batch_; ++b) lengths.push_back(lengths_[rows[b]]);
    lengths_ = std::move(lengths);
}

void KVCache::load_sequence(int64_t b, const KVCache& from, int64_t from_b) {
    ATTEND_CHECK(!in_step_ && !from.in_step_, "KVCache::load_sequence during an open step");
    ATTEND_CHECK(b >= 0 && b < batch_, "KVCache::load_sequence: sequence ", b, " is outside the batch of ", batch_);
    ATTEND_CHECK(from_b >= 0 && from_b < from.batch_, "KVCache::load_sequence: source sequence ", from_b,
                 " is outside the batch of ", from.batch_);
    ATTEND_CHECK(from.n_layers() == n_layers() && from.n_kv_heads_ == n_kv_heads_ && from.head_dim_ == head_dim_,
                 "KVCache::load_sequence: the caches have different layer, head or head-size counts");
    const int64_t n = from.lengths_[size_t(from_b)];
    ATTEND_CHECK(n <= capacity_, "KVCache::load_sequence: ", n, " tokens do not fit a capacity of ", capacity_);
    // Row (b, h) of a (B, Hkv, capacity, Dh) buffer starts at ((b·Hkv + h)·capacity)·Dh.
    const auto copy = [&](Tensor& dst, const Tensor& src_t) {
        const Tensor src = src_t.contiguous();
        for (int64_t h = 0; h < n_kv_heads_; ++h)
            std::memcpy(dst.data() + (b * n_kv_heads_ + h) * capacity_ * head_dim_,
                        src.data() + (from_b * n_kv_heads_ + h) * from.capacity_ * head_dim_,
                        sizeof(float) * size_t(n * head_dim_));
    };
    for (int64_t l = 0; l < n_layers(); ++l) copy(k_[size_t(l)], from.k_[size_t(l)]), copy(v_[size_t(l)], from.v_[size_t(l)]);
    lengths_[size_t(b)] = n;
}

const Tensor& KVCache::k(int64_t layer) const {
    check_layer(layer, "KVCache::k");
    return k_[layer];
}

const Tensor& KVCache::v(int64_t layer) const {
    check_layer(layer, "KVCache::v");
    return v_[layer];
}

}  // namespace attend
