// nn/embedding.cpp — the Embedding layer: a (num_embeddings, dim) table looked up by id.
#include "attend/error.hpp"
#include "attend/nn/layers.hpp"
#include "attend/ops.hpp"

namespace attend {

// nn.Embedding.reset_parameters: normal_(W), N(0, 1).
Embedding::Embedding(int64_t num_embeddings, int64_t dim, ParameterInit init, float stddev) {
    ATTEND_CHECK(num_embeddings > 0 && dim > 0, "Embedding needs positive sizes, got num_embeddings=",
                 num_embeddings, " dim=", dim);
    weight = init.normal({num_embeddings, dim}, stddev);
    weight.requires_grad_(true);
}

Tensor Embedding::forward(std::span<const int64_t> ids, const Shape& ids_shape) const {
    ATTEND_CHECK(weight.defined(), "this Embedding was never constructed (no weight)");
    return embedding(weight, ids, ids_shape);
}

void Embedding::collect_parameters(const std::string& prefix, NamedParameters& out) {
    add_parameter(out, prefix, "weight", weight);
}

}  // namespace attend
