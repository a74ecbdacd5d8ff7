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

namespace {

constexpr uint64_t kHeaderBytes = 7 * 4;
// Larger than any machine's memory: a header asking for more is corrupt, whatever the file size.
constexpr uint64_t kMaxModelBytes = uint64_t(1) << 46;

[[noreturn]] void bad(const std::string& path, const std::string& what) { throw Error(path + ": " + what); }

Llama2cHeader parse_header(const MappedFile& file, const std::string& path) {
    if (file.size() < kHeaderBytes)
        bad(path, "truncated llama2.c checkpoint: " + std::to_string(file.size()) +
                      " bytes, too short for the 28-byte header");
    int32_t v[7];
    std::memcpy(v, file.bytes(), sizeof v);
    if (uint32_t(v[0]) == 0x616b3432u)  // "ak42": export.py's version 1/2 header
        bad(path, "llama2.c checkpoint of export version " + std::to_string(v[1]) +
                      " (magic ak42); only the version-0 (legacy) format is supported — export with --version 0");
    Llama2cHeader h{v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    const std::pair<const char*, int32_t> positive[] = {{"dim", h.dim},         {"hidden_dim", h.hidden_dim},
                                                        {"n_layers", h.n_layers}, {"n_heads", h.n_heads},
                                                        {"n_kv_heads", h.n_kv_heads}, {"seq_len", h.seq_len}};
    for (const auto& [name, value] : positive)
        if (value <= 0)
            bad(path, std::string("llama2.c header has ") + name + "=" + std::to_string(value) + ", must be positive");
    if (h.vocab_size == 0 || h.vocab_size == std::numeric_limits<int32_t>::min())
        bad(path, "llama2.c header has vocab_size=" + std::to_string(h.vocab_size) +
                      ", must be non-zero (negative means a separate classifier)");
    if (h.dim % h.n_heads != 0)
        bad(path, "llama2.c header has dim=" + std::to_string(h.dim) + " not divisible by n_heads=" +
                      std::to_string(h.n_heads));
    if (h.n_kv_heads > h.n_heads || h.n_heads % h.n_kv_heads != 0)
        bad(path, "llama2.c header has n_heads=" + std::to_string(h.n_heads) + " not a multiple of n_kv_heads=" +
                      std::to_string(h.n_kv_heads));
    if ((h.dim / h.n_heads) % 2 != 0)
        bad(path, "llama2.c header has head size dim/n_heads=" + std::to_string(h.dim / h.n_heads) +
                      ", but RoPE needs it even");
    const uint64_t expected = h.expected_file_size();
    if (expected > kMaxModelBytes)
        bad(path, "llama2.c header (dim=" + std::to_string(h.dim) + ", hidden_dim=" + std::to_string(h.hidden_dim) +
                      ", n_layers=" + std::to_string(h.n_layers) + ", vocab_size=" + std::to_string(h.vocab_size) +
                      ", seq_len=" + std::to_string(h.seq_len) + ") implies an impossible " +
                      (expected == std::numeric_limits<uint64_t>::max() ? std::string("overflowing")
                                                                        : std::to_string(expected)) +
                      " bytes");
    if (file.size() != expected)
        bad(path, "llama2.c checkpoint is " + std::to_string(file.size()) + " bytes but its header (dim=" +
                      std::to_string(h.dim) + ", hidden_dim=" + std::to_string(h.hidden_dim) + ", n_layers=" +
                      std::to_string(h.n_layers) + ", n_heads=" + std::to_string(h.n_heads) + ", n_kv_heads=" +
                      std::to_string(h.n_kv_heads) + ", vocab_size=" + std::to_string(h.vocab_size) + ", seq_len=" +
                      std::to_string(h.seq_len) + ") implies " + std::to_string(expected) + " bytes" +
                      (file.size() < expected ? " (truncated)" : " (trailing bytes, or not a llama2.c file)"));
    return h;
}

}  // namespace

uint64_t Llama2cHeader::expected_file_size() const {
    // In 128-bit so that a hostile header cannot wrap around to a plausible size.
    using u128 = unsigned __int128;
    const u128 D = u128(std::max(dim, 0)), F = u128(std::max(hidden_dim, 0)), L = u128(std::max(n_layers, 0));
    const u128 V = u128(vocab_size < 0 ? -int64_t(vocab_size) : int64_t(vocab_size));
    const u128 H = u128(std::max(n_heads, 1)), KVH = u128(std::max(n_kv_heads, 0)), S = u128(std::max(seq_len, 0));
    const u128 head = D / H, kv = D * KVH / H;
    const u128 floats = V * D                       // token embeddings
                        + L * D                     // rms_att_weight
                        + L * D * D + 2 * L * kv * D + L * D * D  // wq, wk, wv, wo
                        + L * D                     // rms_ffn_weight
                        + 3 * L * F * D             // w1, w2, w3
                        + D                         // rms_final_weight
                        + 2 * S * (head / 2)        // freq_cis_real, freq_cis_imag
                        + (vocab_size < 0 ? V * D : 0);  // wcls
    const u128 bytes = kHeaderBytes + 4 * floats;
    return bytes > u128(std::numeric_limits<uint64_t>::max()) ? std::numeric_limits<uint64_t>::max()
                                                               : uint64_t(bytes);
}

Llama2cHeader read_llama2c_header(const std::string& path) { return parse_header(*map_file(path), path); }

TransformerConfig llama2c_config(const Llama2cHeader& h) {
    TransformerConfig c;
    c.name = "llama2.c";
    c.shape = ModelShape::decoder;
    c.head = HeadType::lm;
    c.vocab_size = h.vocab_size < 0 ? -int64_t(h.vocab_size) : h.vocab_size;
    c.d_model = h.dim;
    c.n_layers = h.n_layers;
    c.n_heads = h.n_heads;
    c.n_kv_heads = h.n_kv_heads;
    c.d_ff = h.hidden_dim;
    c.max_positions = h.seq_len;
    c.norm = NormType::rms_norm;
    c.norm_placement = NormPlacement::pre;
    c.final_norm = true;
    c.norm_eps = 1e-5f;  // model.py's ModelArgs.norm_eps; run.c hard-codes 1e-5 too
    c.activation = Activation::swiglu;
    c.positions = PositionType::rope;
    c.rope_layout = RopeLayout::interleaved;
    c.rope_theta = 10000.f;
    c.bias = false;
    c.tie_embeddings = h.shared_classifier();
    c.dropout = 0.f;
    c.init = InitScheme::normal;
    c.init_std = 0.02f;
    return c;
}

LoadedModel load_llama2c(const std::string& path) {
    const std::shared_ptr<MappedFile> file = map_file(path);
    const Llama2cHeader h = parse_header(*file, path);
    TransformerConfig config = llama2c_config(h);
    config.name = "llama2.c " + path;

    // One Storage over every float after the header; the mapping is page-aligned, so
    // 28 bytes in is 4-byte aligned.
    const int64_t n_floats = int64_t((file->size() - kHeaderBytes) / 4);
    auto storage = std::make_shared<Storage>(reinterpret_cast<float*>(file->bytes() + kHeaderBytes), n_floats,
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
