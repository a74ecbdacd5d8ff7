// models/convert_weights.cpp — a model's matrices in bf16 or int8 for inference (see
// Transformer::convert_weights and attend/low_precision.hpp).
#include "attend/models/transformer.hpp"

#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

#include "attend/error.hpp"
#include "core/buffer_pool.hpp"

namespace attend {

// Position and token-type tables are added row by row (ops other than linear/embedding read
// them), and they are small: they stay fp32.
bool Transformer::converts_to_low_precision(const std::string& name, const Shape& shape) {
    return shape.size() == 2 && name.find("position") == std::string::npos &&
           name.find("token_type") == std::string::npos;
}

// All the matrices go into one block of memory, which starts on a 2 MiB boundary and gets
// transparent huge pages over its whole 2 MiB blocks (core/buffer_pool.hpp). Converted one by
// one, a matrix under 2 MiB (GPT-2 small's 768 × 768 ones: 0.6 MB in int8, 1.2 MB in bf16)
// stayed in 4 KiB pages, and the decoding kernels streamed those slower: a TLB walk every
// 4 KiB, and the hardware prefetcher stops at each page boundary. GPT-2 small's 72 layer
// matrices, int8 / bf16, one token's products (test program, medians of 11, AVX2 machine):
// 1 thread 6.0–7.0 → 5.5–6.0 ms / 11.6–13.0 → 10.8–13.1; 2 threads 4.0–4.6 → 3.6–4.2 / 7.2–8.9 → 6.4–8.0.
int64_t Transformer::convert_weights(WeightType type) {
    if (type == WeightType::f32) return 0;
    std::vector<std::pair<Tensor*, int64_t>> todo;  // (parameter, its storage bytes)
    int64_t total = 0;
    for (auto& [name, p] : parameters()) {
        if (!p->defined() || !converts_to_low_precision(name, p->shape())) continue;
        if (const LowPrecisionMatrix* m = p->low_precision()) {
            ATTEND_CHECK(m->type() == type, "parameter ", name, " is already ", name_of(m->type()),
                         "; converting it to ", name_of(type), " would round twice (convert from the fp32 model)");
            continue;
        }
        todo.emplace_back(p, LowPrecisionMatrix::storage_bytes(p->size(0), p->size(1), type));
        total += todo.back().second;
    }
    if (todo.empty()) return 0;
    void* block = buffer_pool::fresh_memory(size_t(total));
    if (!block) throw std::bad_alloc();
    const std::shared_ptr<void> owner(block, std::free);  // freed with the last matrix
    char* next = static_cast<char*>(block);
    for (const auto& [p, bytes] : todo) {
        *p = low_precision_tensor(LowPrecisionMatrix::quantize(*p, type, next, owner));
        next += bytes;
    }
    return int64_t(todo.size());
}

int64_t Transformer::weight_bytes() {
    int64_t bytes = 0;
    for (auto& [name, p] : parameters())
        bytes += p->low_precision() ? p->low_precision()->bytes() : 4 * p->numel();
    return bytes;
}

}  // namespace attend
