// core/low_precision.cpp — rounding fp32 weights to bf16 / int8 and widening them back
// (see attend/low_precision.hpp for the formats).
#include "attend/low_precision.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <omp.h>

#include "attend/error.hpp"
#include "attend/parallel.hpp"
#include "core/buffer_pool.hpp"
#include "core/tensor_impl.hpp"

namespace attend {

void* LowPrecisionMatrix::allocate_cache_lines(size_t bytes) {
    void* p = buffer_pool::fresh_memory(bytes);
    if (!p) throw std::bad_alloc();
    return p;
}

const char* name_of(WeightType type) {
    switch (type) {
        case WeightType::f32: return "f32";
        case WeightType::bf16: return "bf16";
        case WeightType::int8: return "int8";
    }
    return "?";
}

WeightType parse_weight_type(const std::string& name) {
    for (WeightType t : {WeightType::f32, WeightType::bf16, WeightType::int8})
        if (name == name_of(t)) return t;
    detail::fail(__func__, "unknown weight type '", name, "' (expected f32, bf16 or int8)");
}

// nearbyint for |v| < 2²² in the default rounding mode (nearest, ties to even): adding 1.5 · 2²³
// leaves no bits below the units, so the sum is rounded there and the subtraction is exact.
// std::nearbyint is a libm call per value on baseline x86-64 (no SSE4.1), and with it and a
// float max the int8 conversion did not vectorise: `attend generate --dtype int8` of GPT-2
// small loaded in 583–649 ms, now 387–469 (1 thread, interleaved). Here |v| ≤ 127. (No FMA may
// fuse the product into the add: this file is built for baseline x86-64, and int8_of_row's
// clone for AVX2 without FMA.)
static float round_to_even(float v) {
    constexpr float kShift = 12582912.f;  // 1.5 · 2²³
    return (v + kShift) - kShift;
}

// max |x_k| over n values, NaN if any is NaN (std::max would pass over it). On the bit patterns
// with the sign cleared, integer order is float order and every NaN lies above +inf; integers
// also let the compiler vectorise the loop, which it may not do for a float max.
static float max_abs(const float* x, int64_t n) {
    uint32_t top = 0;
    for (int64_t k = 0; k < n; ++k) {
        uint32_t bits;
        std::memcpy(&bits, x + k, sizeof bits);
        top = std::max(top, bits & 0x7FFFFFFFu);
    }
    float result;
    std::memcpy(&result, &top, sizeof result);
    return result;
}

// One row of int8 values and its block scales (see low_precision.hpp); false if the row holds
// inf or NaN (its blocks from there on are left unwritten). Full blocks run with a constant
// trip count, and an AVX2 clone where the CPU has it (AVX2 alone, no FMA: round_to_even must
// round the product first). Baseline x86-64's 4 lanes took ~40% of `attend generate --dtype
// int8` 's load of GPT-2 small; with this, 423 → 302 ms at 1 thread, 320 → 269 at 2 (medians
// of 5, interleaved, AVX2 machine), the values bit for bit the same (`attend convert`, cmp).
__attribute__((target_clones("avx2", "default"))) static bool int8_of_row(const float* x, int64_t cols, int8_t* q,
                                                                          float* scales) {
    constexpr int64_t kBlock = LowPrecisionMatrix::kBlock;
    for (int64_t k0 = 0, c = 0; k0 < cols; k0 += kBlock, ++c) {
        const int64_t n = std::min(kBlock, cols - k0);
        const float amax = n == kBlock ? max_abs(x + k0, kBlock) : max_abs(x + k0, n);
        if (!std::isfinite(amax)) return false;
        const float inv = amax > 0.f ? 127.f / amax : 0.f;
        scales[c] = amax / 127.f;
        const auto round = [&](int64_t k) { q[k] = int8_t(std::clamp(round_to_even(x[k] * inv), -127.f, 127.f)); };
        if (n == kBlock)
            for (int64_t k = k0; k < k0 + kBlock; ++k) round(k);
        else
            for (int64_t k = k0; k < k0 + n; ++k) round(k);
    }
    return true;
}

// Round to nearest even on the 16 bits dropped: add 0x7FFF plus the lowest kept bit. A NaN
// keeps a mantissa bit set so that it stays NaN (rounding could carry it into infinity).
// Branch-free, so that the bulk to_bf16 below vectorises. Loops call that one, not the scalar
// to_bf16 per value: an exported function of a shared library may be interposed, so GCC does
// not inline it (quantize's loop calling it per value loaded GPT-2 small --dtype bf16 in
// 674–843 ms, inlined 370–567).
static inline uint16_t bf16_of_bits(uint32_t bits) {
    const uint16_t nan = uint16_t((bits >> 16) | 0x40u);
    const uint16_t rounded = uint16_t((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    return (bits & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded;
}

uint16_t to_bf16(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    return bf16_of_bits(bits);
}

void to_bf16(const float* x, int64_t n, uint16_t* out) {
    for (int64_t i = 0; i < n; ++i) {
        uint32_t bits;
        std::memcpy(&bits, x + i, sizeof bits);
        out[i] = bf16_of_bits(bits);
    }
}

// Bytes rounded up to whole 64-byte cache lines: each part of storage_bytes' layout.
static int64_t whole_lines(int64_t bytes) { return (bytes + 63) / 64 * 64; }

int64_t LowPrecisionMatrix::storage_bytes(int64_t rows, int64_t cols, WeightType type) {
    ATTEND_CHECK(rows > 0 && cols > 0 && (type == WeightType::bf16 || type == WeightType::int8),
                 "storage_bytes: a ", rows, " × ", cols, " matrix in ", name_of(type));
    if (type == WeightType::bf16) return whole_lines(2 * rows * cols);
    return whole_lines(rows * cols) + whole_lines(4 * rows * ((cols + kBlock - 1) / kBlock));  // values, scales
}

std::shared_ptr<const LowPrecisionMatrix> LowPrecisionMatrix::quantize(const Tensor& w, WeightType type) {
    return quantize_into(w, type, nullptr, nullptr);
}

std::shared_ptr<const LowPrecisionMatrix> LowPrecisionMatrix::quantize(const Tensor& w, WeightType type, void* memory,
                                                                       std::shared_ptr<void> owner) {
    ATTEND_CHECK(memory && owner && reinterpret_cast<uintptr_t>(memory) % 64 == 0,
                 "quantize into memory needs a 64-byte aligned block and its owner");
    return quantize_into(w, type, memory, std::move(owner));
}

// The conversion reads w a panel of kPanelRows rows at a time: in place where w is contiguous;
// else (GPT-2's Conv1D weights are transposed views of the file) gathered into a buffer of
// the thread's, which stays in its cache — never an f32 copy of the whole matrix. That copy
// (`contiguous()`, on one thread) was most of `attend generate --dtype int8` 's load of GPT-2
// small: `perf record` at 1 thread put 39% of the samples in the gather, 16% in zeroing its
// fresh pages, 21% in the conversion reading the copy back.
constexpr int64_t kPanelRows = 32;

std::shared_ptr<const LowPrecisionMatrix> LowPrecisionMatrix::quantize_into(const Tensor& w, WeightType type,
                                                                            void* memory, std::shared_ptr<void> owner) {
    ATTEND_CHECK(w.defined() && w.dim() == 2, "only a matrix (rows, cols) converts to low precision, got ",
                 w.defined() ? to_string(w.shape()) : "(undefined)");
    ATTEND_CHECK(type == WeightType::bf16 || type == WeightType::int8, "quantize converts to bf16 or int8, not ",
                 name_of(type));
    std::shared_ptr<LowPrecisionMatrix> m(new LowPrecisionMatrix());
    m->type_ = type;
    m->rows_ = w.size(0);
    m->cols_ = w.size(1);
    m->owner_ = std::move(owner);
    const int64_t rows = m->rows_, cols = m->cols_, n = rows * cols, blocks = m->blocks_per_row();
    const int64_t panels = (rows + kPanelRows - 1) / kPanelRows;
    // Asked for here, not inside the parallel loop, where nothing may throw: w's values (an
    // Error for a tensor without any) and a strided w's panels as views.
    const float* values_of_w = w.data();
    const bool in_place = w.is_contiguous();
    std::vector<Tensor> panel_views;
    if (!in_place)
        for (int64_t p = 0; p < panels; ++p) {
            const int64_t r0 = p * kPanelRows, r1 = std::min(rows, r0 + kPanelRows);
            panel_views.push_back(Tensor::make_view(w, {r1 - r0, cols}, w.strides(), w.offset() + r0 * w.strides()[0]));
        }

    uint16_t* bf16 = nullptr;
    int8_t* values = nullptr;
    float* scales = nullptr;
    if (type == WeightType::bf16) {
        bf16 = static_cast<uint16_t*>(memory);
        if (!bf16) {
            m->own_bf16_.resize(size_t(n));
            bf16 = m->own_bf16_.data();
        }
    } else {
        values = static_cast<int8_t*>(memory);
        scales = values ? reinterpret_cast<float*>(values + whole_lines(n)) : nullptr;  // storage_bytes' layout
        if (!values) {
            m->own_int8_.resize(size_t(n));
            m->own_scales_.resize(size_t(rows * blocks));
            values = m->own_int8_.data();
            scales = m->own_scales_.data();
        }
    }
    // A non-finite weight is reported after the loop: an exception must not leave an OpenMP
    // region (it would terminate the program instead of naming the row).
    int64_t first_bad_row = rows;
    const bool threaded = worth_threading(n, panels);
    std::vector<float> gathered(in_place ? 0 : size_t((threaded ? omp_get_max_threads() : 1) * kPanelRows * cols));
#pragma omp parallel reduction(min : first_bad_row) if (threaded)
    {
        float* mine = gathered.data() + size_t(omp_get_thread_num() * kPanelRows * cols);
#pragma omp for schedule(static)
        for (int64_t p = 0; p < panels; ++p) {
            const int64_t r0 = p * kPanelRows, r1 = std::min(rows, r0 + kPanelRows);
            const float* panel = in_place ? values_of_w + r0 * cols : mine;  // (r1 − r0, cols)
            if (!in_place) gather_contiguous(panel_views[size_t(p)], mine);
            if (type == WeightType::bf16) {
                to_bf16(panel, (r1 - r0) * cols, bf16 + r0 * cols);
                continue;
            }
            for (int64_t r = r0; r < r1; ++r)
                if (!int8_of_row(panel + (r - r0) * cols, cols, values + r * cols, scales + r * blocks))
                    first_bad_row = std::min(first_bad_row, r);  // the matrix is refused below
        }
    }
    if (type == WeightType::bf16) {
        m->bf16_ = bf16;
        return m;
    }
    ATTEND_CHECK(first_bad_row == rows, "cannot convert a weight holding inf or NaN to int8 (row ", first_bad_row, ")");
    m->int8_ = values;
    m->scales_ = scales;
    return m;
}

std::shared_ptr<const LowPrecisionMatrix> LowPrecisionMatrix::adopt_bf16(int64_t rows, int64_t cols,
                                                                         const uint16_t* values,
                                                                         std::shared_ptr<void> owner) {
    ATTEND_CHECK(rows > 0 && cols > 0 && values, "adopt_bf16 needs a non-empty matrix, got ", rows, " × ", cols);
    std::shared_ptr<LowPrecisionMatrix> m(new LowPrecisionMatrix());
    m->type_ = WeightType::bf16;
    m->rows_ = rows, m->cols_ = cols;
    if (owner) {
        m->owner_ = std::move(owner);
        m->bf16_ = values;
    } else {
        m->own_bf16_.assign(values, values + rows * cols);
        m->bf16_ = m->own_bf16_.data();
    }
    return m;
}

std::shared_ptr<const LowPrecisionMatrix> LowPrecisionMatrix::adopt_int8(int64_t rows, int64_t cols,
                                                                         const int8_t* values, const float* scales,
                                                                         std::shared_ptr<void> owner) {
    ATTEND_CHECK(rows > 0 && cols > 0 && values && scales, "adopt_int8 needs a non-empty matrix and its scales, got ",
                 rows, " × ", cols);
    std::shared_ptr<LowPrecisionMatrix> m(new LowPrecisionMatrix());
    m->type_ = WeightType::int8;
    m->rows_ = rows, m->cols_ = cols;
    const int64_t n_scales = rows * m->blocks_per_row();
    for (int64_t i = 0; i < n_scales; ++i)
        ATTEND_CHECK(std::isfinite(scales[i]) && scales[i] >= 0.f, "int8 scale ", i, " is ", scales[i],
                     " (scales must be finite and ≥ 0)");
    // −128 is outside the format (quantize() never writes it): the dot-product kernel moves x's
    // sign onto the weights, and −128 has no positive twin (ops/gemv_dot.hpp).
    bool has_minus_128 = false;
    for (int64_t i = 0; i < rows * cols; ++i) has_minus_128 |= values[i] == -128;
    if (has_minus_128)
        for (int64_t i = 0; i < rows * cols; ++i)
            ATTEND_CHECK(values[i] != -128, "int8 value ", i, " is −128 (attend's int8 weights are in [−127, 127])");
    if (owner) {
        m->owner_ = std::move(owner);
        m->int8_ = values;
        m->scales_ = scales;
    } else {
        m->own_int8_.assign(values, values + rows * cols);
        m->own_scales_.assign(scales, scales + n_scales);
        m->int8_ = m->own_int8_.data();
        m->scales_ = m->own_scales_.data();
    }
    return m;
}

int64_t LowPrecisionMatrix::bytes() const {
    const int64_t n = rows_ * cols_;
    return type_ == WeightType::bf16 ? 2 * n : n + 4 * rows_ * blocks_per_row();
}

void LowPrecisionMatrix::dequantize_rows(int64_t r0, int64_t r1, float* out) const {
    ATTEND_CHECK(0 <= r0 && r0 <= r1 && r1 <= rows_, "dequantize_rows: rows [", r0, ", ", r1, ") outside [0, ", rows_,
                 ")");
    if (type_ == WeightType::bf16) {
        for (int64_t i = r0 * cols_; i < r1 * cols_; ++i) out[i - r0 * cols_] = from_bf16(bf16_[i]);
        return;
    }
    const int64_t blocks = blocks_per_row();
    for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = 0; c < blocks; ++c) {
            const float s = scales_[r * blocks + c];
            for (int64_t k = c * kBlock; k < std::min(cols_, (c + 1) * kBlock); ++k)
                out[(r - r0) * cols_ + k] = s * float(int8_[r * cols_ + k]);
        }
}

Tensor LowPrecisionMatrix::dequantize() const {
    Tensor out = Tensor::empty({rows_, cols_});
    dequantize_rows(0, rows_, out.data());
    return out;
}

Tensor low_precision_tensor(std::shared_ptr<const LowPrecisionMatrix> m) {
    ATTEND_CHECK(m != nullptr, "low_precision_tensor needs values");
    const Shape shape{m->rows(), m->cols()};
    return Tensor::from_storage(std::make_shared<Storage>(std::move(m)), shape);
}

}  // namespace attend
