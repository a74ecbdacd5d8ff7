// nn/kv_cache.cpp — per-sequence key/value buffers for incremental decoding (see
// nn/kv_cache.hpp for the step protocol and the masking it implies).
#include "attend/nn/kv_cache.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/profile.hpp"
#include "core/buffer_pool.hpp"

namespace attend {

namespace {

// A zeroed bf16 buffer, 64-byte aligned (a 64-value head row is two whole cache lines) and
// on huge pages where large, as an fp32 cache's tensors are (core/buffer_pool.hpp). Zeroed:
// a widened batch reads the rows past a short sequence's end too (masked, but a NaN there
// would still reach the output through 0 · NaN).
std::shared_ptr<uint16_t> bf16_buffer(size_t values) {
    void* memory = buffer_pool::fresh_memory(values * sizeof(uint16_t));
    if (!memory) throw std::bad_alloc();
    std::memset(memory, 0, values * sizeof(uint16_t));
    return std::shared_ptr<uint16_t>(static_cast<uint16_t*>(memory), [](uint16_t* p) { std::free(p); });
}

}  // namespace

KVCache::KVCache(int64_t n_layers, int64_t batch, int64_t n_kv_heads, int64_t head_dim, int64_t capacity,
                 WeightType values)
    : batch_(batch), n_kv_heads_(n_kv_heads), head_dim_(head_dim), capacity_(capacity), values_(values) {
    ATTEND_CHECK(n_layers > 0 && batch > 0 && n_kv_heads > 0 && head_dim > 0 && capacity > 0,
                 "KVCache needs positive sizes, got n_layers=", n_layers, " batch=", batch, " n_kv_heads=",
                 n_kv_heads, " head_dim=", head_dim, " capacity=", capacity);
    ATTEND_CHECK(values == WeightType::f32 || values == WeightType::bf16, "a KV cache holds f32 or bf16 values, not ",
                 name_of(values));
    const Shape shape{batch, n_kv_heads, capacity, head_dim};
    for (int64_t l = 0; l < n_layers; ++l) {
        if (values == WeightType::f32) {
            k_.push_back(Tensor::zeros(shape)), v_.push_back(Tensor::zeros(shape));
        } else {
            k16_.push_back(bf16_buffer(size_t(numel_of(shape)))), v16_.push_back(bf16_buffer(size_t(numel_of(shape))));
        }
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
    const auto count = [&](int64_t b) { return n_new.empty() ? Tq : n_new[size_t(b)]; };
    for (int64_t b = 0; b < batch_; ++b) {
        ATTEND_CHECK(count(b) >= 0 && count(b) <= Tq, "n_new[", b, "] = ", count(b), " is outside [0, Tq=", Tq,
                     "]");
        ATTEND_CHECK(lengths_[b] + count(b) <= capacity_, "sequence ", b, " holds ", lengths_[b],
                     " tokens; adding ", count(b), " exceeds the cache capacity of ", capacity_);
    }
    in_step_ = true;
    step_tq_ = Tq;
    offsets_ = lengths_;  // assigned in place, as n_new_: a step allocates nothing here
    n_new_.resize(size_t(batch_));
    for (int64_t b = 0; b < batch_; ++b) n_new_[size_t(b)] = count(b);
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
    const int64_t H = n_kv_heads_, Tq = step_tq_, D = head_dim_;
    // Sequence b's new rows, (n_new[b], Dh) per head, at rows offset(b).. of its slice.
    const auto store = [&](const float* src, auto* dst) {
        for (int64_t b = 0; b < batch_; ++b)
            for (int64_t h = 0; h < H; ++h) {
                const float* from = src + ((b * H + h) * Tq) * D;
                auto* to = dst + row_of(b, h, offsets_[b]);
                const int64_t n = n_new_[b] * D;
                if constexpr (std::is_same_v<decltype(to), float*>) std::memcpy(to, from, sizeof(float) * size_t(n));
                else to_bf16(from, n, to);  // rounded to nearest even
            }
    };
    appended_[layer] = true;
    if (values_ == WeightType::f32) {
        store(k_new.data(), k_[layer].data()), store(v_new.data(), v_[layer].data());
        return {k_[layer], v_[layer], {}, mask_};
    }
    store(k_new.data(), k16_[layer].get()), store(v_new.data(), v16_[layer].get());
    return {Tensor(), Tensor(), bf16_keys_values(layer), mask_};
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

void KVCache::reorder(const std::vector<int64_t>& rows, CrossMemory cross) {
    ATTEND_CHECK(!in_step_, "KVCache::reorder during an open step");
    ATTEND_CHECK(int64_t(rows.size()) == batch_, "KVCache::reorder needs one source row per sequence (",
                 batch_, "), got ", rows.size());
    for (int64_t r : rows)
        ATTEND_CHECK(r >= 0 && r < batch_, "KVCache::reorder: row ", r, " is outside the batch of ", batch_);
    // The keys and values move in place: the rows that change are first copied out — only
    // their filled positions, into a scratch kept across calls — then written back, so a row
    // read and overwritten in one call (a permutation) is read first, and a beam-search step
    // reorders without allocating (tests/memory/test_seq2seq_decode_allocations.cpp).
    int64_t moved = 0;
    for (int64_t b = 0; b < batch_; ++b) moved += rows[size_t(b)] != b;
    if (moved > 0) {
        const size_t element = values_ == WeightType::f32 ? sizeof(float) : sizeof(uint16_t);
        const size_t head_bytes = size_t(capacity_ * head_dim_) * element;  // one (b, h)'s room
        reorder_scratch_.resize(size_t(batch_ * n_kv_heads_) * head_bytes);  // the most one buffer needs: once
        // copy(at, from, used): for each (b, h) that changes, in order — `at` its row's offset in
        // the buffer, `from` its source row's, `used` the source's filled bytes.
        const auto each_moved_head = [&](const auto& copy) {
            for (int64_t b = 0; b < batch_; ++b) {
                const int64_t from = rows[size_t(b)];
                if (from == b) continue;
                const size_t used = size_t(lengths_[size_t(from)] * head_dim_) * element;
                for (int64_t h = 0; h < n_kv_heads_; ++h)
                    copy(size_t(b * n_kv_heads_ + h) * head_bytes, size_t(from * n_kv_heads_ + h) * head_bytes, used);
            }
        };
        const auto move = [&](unsigned char* buffer) {  // (B, Hkv, capacity, Dh) in `element`s
            unsigned char* scratch = reorder_scratch_.data();
            each_moved_head([&](size_t, size_t from, size_t used) {
                std::memcpy(scratch, buffer + from, used);
                scratch += used;
            });
            scratch = reorder_scratch_.data();
            each_moved_head([&](size_t at, size_t, size_t used) {
                std::memcpy(buffer + at, scratch, used);
                scratch += used;
            });
        };
        for (int64_t l = 0; l < n_layers(); ++l) {
            if (values_ == WeightType::f32) {
                move(reinterpret_cast<unsigned char*>(k_[size_t(l)].data()));
                move(reinterpret_cast<unsigned char*>(v_[size_t(l)].data()));
            } else {
                move(reinterpret_cast<unsigned char*>(k16_[size_t(l)].get()));
                move(reinterpret_cast<unsigned char*>(v16_[size_t(l)].get()));
            }
        }
    }
    if (cross == CrossMemory::move && moved > 0) {
        // Into fresh tensors: set_cross may have kept the caller's own (its rows not ours to write).
        const auto gather = [&](const Tensor& t) {  // (B, ...) -> (B, ...)
            const Tensor src = t.contiguous();
            Tensor dst = Tensor::empty(src.shape());
            const size_t row = size_t(src.numel() / batch_);
            for (int64_t b = 0; b < batch_; ++b)
                std::memcpy(dst.data() + size_t(b) * row, src.data() + size_t(rows[size_t(b)]) * row, sizeof(float) * row);
            return dst;
        };
        NoGradGuard no_grad;
        for (int64_t l = 0; l < n_layers(); ++l)
            if (cross_k_[size_t(l)].defined())
                cross_k_[size_t(l)] = gather(cross_k_[size_t(l)]), cross_v_[size_t(l)] = gather(cross_v_[size_t(l)]);
    }
    reorder_lengths_.resize(lengths_.size());
    for (int64_t b = 0; b < batch_; ++b) reorder_lengths_[size_t(b)] = lengths_[size_t(rows[size_t(b)])];
    lengths_.swap(reorder_lengths_);  // both keep their room: the next call allocates nothing
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
    ATTEND_CHECK(from.values_ == values_, "KVCache::load_sequence: the source cache holds ", name_of(from.values_),
                 " values, this one ", name_of(values_));
    const auto copy = [&](auto* dst, const auto* src) {
        for (int64_t h = 0; h < n_kv_heads_; ++h)
            std::memcpy(dst + row_of(b, h, 0), src + from.row_of(from_b, h, 0), sizeof(*src) * size_t(n * head_dim_));
    };
    for (size_t l = 0; l < size_t(n_layers()); ++l) {
        if (values_ == WeightType::f32) {
            copy(k_[l].data(), from.k_[l].contiguous().data()), copy(v_[l].data(), from.v_[l].contiguous().data());
        } else {
            copy(k16_[l].get(), from.k16_[l].get()), copy(v16_[l].get(), from.v16_[l].get());
        }
    }
    lengths_[size_t(b)] = n;
}

const Tensor& KVCache::k(int64_t layer) const {
    check_layer(layer, "KVCache::k");
    ATTEND_CHECK(values_ == WeightType::f32, "KVCache::k: this cache holds bf16 values (bf16_keys_values)");
    return k_[layer];
}

const Tensor& KVCache::v(int64_t layer) const {
    check_layer(layer, "KVCache::v");
    ATTEND_CHECK(values_ == WeightType::f32, "KVCache::v: this cache holds bf16 values (bf16_keys_values)");
    return v_[layer];
}

Bf16KeysValues KVCache::bf16_keys_values(int64_t layer) const {
    check_layer(layer, "KVCache::bf16_keys_values");
    ATTEND_CHECK(values_ == WeightType::bf16, "KVCache::bf16_keys_values: this cache holds ", name_of(values_),
                 " values (k, v)");
    return {k16_[layer].get(), v16_[layer].get(), batch_, n_kv_heads_, capacity_, head_dim_, head_dim_};
}

}  // namespace attend
