// io/llama2c.cpp — karpathy/llama2.c version-0 checkpoints.
//
// The file, as run.c's memory_map_weights reads it (little-endian, no padding):
//
//   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//   float token_embedding_table [V, D]
//   float rms_att_weight        [L, D]
//   float wq                    [L, D, D]        rows are outputs: (out, in), as nn.Linear
//   float wk, wv                [L, KV, D]       KV = D · n_kv_heads / n_heads
//   float wo                    [L, D, D]
//   float rms_ffn_weight        [L, D]
//   float w1 (gate), w2 (down), w3 (up)   [L, F, D], [L, D, F], [L, F, D]
//   float rms_final_weight      [D]
//   float freq_cis_real, freq_cis_imag   [seq_len, head_size / 2] each (legacy; unused)
//   float wcls                  [V, D]           only when vocab_size < 0 (|vocab_size| is V)
//
// Every array is 4-byte aligned in the mapping (28 + 4k bytes from a page boundary), so the
// weights are borrowed in place: one Storage over the whole float region, a Tensor view per
// matrix. The q/k rows of each head pair up as (2i, 2i+1) for RoPE (model.py's
// apply_rotary_emb views them as complex numbers), hence rope_layout = interleaved.
#include <algorithm>
#include <cstring>
#include <limits>

#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "io/loader_internal.hpp"
#include "io/mapped_file.hpp"

namespace attend {

LoadedModel load_llama2c(const std::string& path) {
    const std::shared_ptr<MappedFile> file = open_model_file(path);
    const Llama2cHeader h = parse_llama2c_header(file->bytes(), file->size(), path);
    TransformerConfig config = llama2c_config(h);
    config.name = "llama2.c " + path;
    check_config_fits_file(config, (file->size() - Llama2cHeader::kBytes) / 4, path);
    file->make_resident();  // the header has vouched for the file: read it (unless mapped)

    // One Storage over every float after the header; the mapping (or memory read into) is
    // page-aligned, so 28 bytes in is 4-byte aligned.
    const int64_t n_floats = int64_t((file->size() - Llama2cHeader::kBytes) / 4);
    auto storage = std::make_shared<Storage>(reinterpret_cast<float*>(file->bytes() + Llama2cHeader::kBytes), n_floats,
                                             std::shared_ptr<void>(file));
    int64_t offset = 0;
    auto next = [&](const Shape& shape) {  // the next array of the file, as a view
        Tensor t = Tensor::from_storage(storage, shape, offset);
        offset += numel_of(shape);
        return t;
    };
    const int64_t D = config.d_model, F = config.d_ff, L = config.n_layers, V = config.vocab_size;
    const int64_t KV = config.kv_heads() * config.head_dim();
    const Tensor embedding = next({V, D}), rms_att = next({L, D}), wq = next({L, D, D}), wk = next({L, KV, D}),
                 wv = next({L, KV, D}), wo = next({L, D, D}), rms_ffn = next({L, D}), w1 = next({L, F, D}),
                 w2 = next({L, D, F}), w3 = next({L, F, D}), rms_final = next({D});
    next({2, int64_t(h.seq_len), config.head_dim() / 2});  // freq_cis_real, freq_cis_imag: RoPE is recomputed
    const Tensor wcls = h.shared_classifier() ? Tensor() : next({V, D});
    ATTEND_CHECK(offset == n_floats, path, ": llama2.c layout consumed ", offset, " of ", n_floats,
                 " floats (a bug in the reader)");

    // Layer l of a stacked [L, ...] array: a view with the offset moved along.
    auto layer = [](const Tensor& stacked, int64_t l) {
        Shape shape(stacked.shape().begin() + 1, stacked.shape().end());
        return Tensor::from_storage(stacked.storage(), shape, stacked.offset() + l * numel_of(shape));
    };
    std::map<std::string, Tensor> ours;
    ours["embeddings.token.weight"] = embedding;
    for (int64_t l = 0; l < L; ++l) {
        const std::string p = "layers." + std::to_string(l) + ".";
        ours[p + "self_attn_norm.weight"] = layer(rms_att, l);
        ours[p + "self_attn.q_proj.weight"] = layer(wq, l);
        ours[p + "self_attn.k_proj.weight"] = layer(wk, l);
        ours[p + "self_attn.v_proj.weight"] = layer(wv, l);
        ours[p + "self_attn.out_proj.weight"] = layer(wo, l);
        ours[p + "ff_norm.weight"] = layer(rms_ffn, l);
        ours[p + "ff.gate_proj.weight"] = layer(w1, l);
        ours[p + "ff.down_proj.weight"] = layer(w2, l);
        ours[p + "ff.up_proj.weight"] = layer(w3, l);
    }
    ours["norm.weight"] = rms_final;
    if (wcls.defined()) ours["lm_head.weight"] = wcls;

    LoadedModel loaded{.model = Transformer(config, ParameterInit::uninitialised()), .config = config, .format = ModelFormat::llama2c, .path = path, .tokenizer_path = {}};
    adopt_parameters(loaded.model, ours, path);
    loaded.bos_id = 1;  // llama2.c's tokenizer: <s> = 1, </s> = 2 (run.c stops on BOS)
    loaded.eos_id = 2;
    return loaded;
}

}  // namespace attend
