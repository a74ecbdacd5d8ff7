// io/llama2c_header.cpp — the header of a llama2.c version-0 checkpoint, checked against the
// file's size before anything is mapped as weights (io/model_loader.hpp; the layout is in
// io/llama2c.cpp). Fuzzed by fuzz/llama2c.cpp.
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>

#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "io/loader_internal.hpp"
#include "io/mapped_file.hpp"

namespace attend {

namespace {

// Larger than any machine's memory: a header asking for more is corrupt, whatever the file size.
constexpr uint64_t kMaxModelBytes = uint64_t(1) << 46;

}  // namespace

Llama2cHeader parse_llama2c_header(const void* bytes, size_t size, const std::string& path) {
    if (size < Llama2cHeader::kBytes)
        bad_file(path, "truncated llama2.c checkpoint: " + std::to_string(size) +
                      " bytes, too short for the 28-byte header");
    int32_t v[7];
    std::memcpy(v, bytes, sizeof v);
    if (uint32_t(v[0]) == 0x616b3432u)  // "ak42": export.py's version 1/2 header
        bad_file(path, "llama2.c checkpoint of export version " + std::to_string(v[1]) +
                      " (magic ak42); only the version-0 (legacy) format is supported — export with --version 0");
    Llama2cHeader h{v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    const std::pair<const char*, int32_t> positive[] = {{"dim", h.dim},         {"hidden_dim", h.hidden_dim},
                                                        {"n_layers", h.n_layers}, {"n_heads", h.n_heads},
                                                        {"n_kv_heads", h.n_kv_heads}, {"seq_len", h.seq_len}};
    for (const auto& [name, value] : positive)
        if (value <= 0)
            bad_file(path, std::string("llama2.c header has ") + name + "=" + std::to_string(value) + ", must be positive");
    if (h.vocab_size == 0 || h.vocab_size == std::numeric_limits<int32_t>::min())
        bad_file(path, "llama2.c header has vocab_size=" + std::to_string(h.vocab_size) +
                      ", must be non-zero (negative means a separate classifier)");
    if (h.dim % h.n_heads != 0)
        bad_file(path, "llama2.c header has dim=" + std::to_string(h.dim) + " not divisible by n_heads=" +
                      std::to_string(h.n_heads));
    if (h.n_kv_heads > h.n_heads || h.n_heads % h.n_kv_heads != 0)
        bad_file(path, "llama2.c header has n_heads=" + std::to_string(h.n_heads) + " not a multiple of n_kv_heads=" +
                      std::to_string(h.n_kv_heads));
    if ((h.dim / h.n_heads) % 2 != 0)
        bad_file(path, "llama2.c header has head size dim/n_heads=" + std::to_string(h.dim / h.n_heads) +
                      ", but RoPE needs it even");
    const uint64_t expected = h.expected_file_size();
    if (expected > kMaxModelBytes)
        bad_file(path, "llama2.c header (dim=" + std::to_string(h.dim) + ", hidden_dim=" + std::to_string(h.hidden_dim) +
                      ", n_layers=" + std::to_string(h.n_layers) + ", vocab_size=" + std::to_string(h.vocab_size) +
                      ", seq_len=" + std::to_string(h.seq_len) + ") implies an impossible " +
                      (expected == std::numeric_limits<uint64_t>::max() ? std::string("overflowing")
                                                                        : std::to_string(expected)) +
                      " bytes");
    if (size != expected)
        bad_file(path, "llama2.c checkpoint is " + std::to_string(size) + " bytes but its header (dim=" +
                      std::to_string(h.dim) + ", hidden_dim=" + std::to_string(h.hidden_dim) + ", n_layers=" +
                      std::to_string(h.n_layers) + ", n_heads=" + std::to_string(h.n_heads) + ", n_kv_heads=" +
                      std::to_string(h.n_kv_heads) + ", vocab_size=" + std::to_string(h.vocab_size) + ", seq_len=" +
                      std::to_string(h.seq_len) + ") implies " + std::to_string(expected) + " bytes" +
                      (size < expected ? " (truncated)" : " (trailing bytes, or not a llama2.c file)"));
    return h;
}

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
    const u128 bytes = Llama2cHeader::kBytes + 4 * floats;
    return bytes > u128(std::numeric_limits<uint64_t>::max()) ? std::numeric_limits<uint64_t>::max()
                                                               : uint64_t(bytes);
}

Llama2cHeader read_llama2c_header(const std::string& path) {
    const std::shared_ptr<MappedFile> file = map_file(path);
    return parse_llama2c_header(file->bytes(), file->size(), path);
}

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

}  // namespace attend
