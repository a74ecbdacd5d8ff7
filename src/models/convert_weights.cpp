// models/convert_weights.cpp — a model's matrices in bf16 or int8 for inference (see
// Transformer::convert_weights and attend/low_precision.hpp).
#include "attend/models/transformer.hpp"

#include "attend/error.hpp"

namespace attend {

// Position and token-type tables are added row by row (ops other than linear/embedding read
// them), and they are small: they stay fp32.
bool Transformer::converts_to_low_precision(const std::string& name, const Shape& shape) {
    return shape.size() == 2 && name.find("position") == std::string::npos &&
           name.find("token_type") == std::string::npos;
}

int64_t Transformer::convert_weights(WeightType type) {
    if (type == WeightType::f32) return 0;
    int64_t converted = 0;
    for (auto& [name, p] : parameters()) {
        if (!p->defined() || !converts_to_low_precision(name, p->shape())) continue;
        if (const LowPrecisionMatrix* m = p->low_precision()) {
            ATTEND_CHECK(m->type() == type, "parameter ", name, " is already ", name_of(m->type()),
                         "; converting it to ", name_of(type), " would round twice (convert from the fp32 model)");
            continue;
        }
        *p = low_precision_tensor(LowPrecisionMatrix::quantize(*p, type));
        ++converted;
    }
    return converted;
}

int64_t Transformer::weight_bytes() {
    int64_t bytes = 0;
    for (auto& [name, p] : parameters())
        bytes += p->low_precision() ? p->low_precision()->bytes() : 4 * p->numel();
    return bytes;
}

}  // namespace attend
