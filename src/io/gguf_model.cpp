// io/gguf_model.cpp — GGUF models: llama.cpp's architectures, metadata keys and tensor names
// in attend's TransformerConfig and parameter names, both ways (load_gguf, save_gguf). The one
// place the mapping lives.
//
//   GGUF arch   attend config                                   llama.cpp tensors → ours
//   llama       decoder, RMSNorm, SwiGLU, RoPE (interleaved:    token_embd, blk.N.attn_norm, attn_q/k/v,
//   (mistral)   llama.cpp's convert_hf_to_gguf permutes HF's    attn_output, ffn_norm, ffn_gate/up/down,
//               q/k rows back to Meta's pairs), no biases       output_norm, output (absent: tied)
//   qwen2       llama's blocks, RoPE rotate_half (llama.cpp's   as llama, plus attn_q/k/v.bias
//               NEOX: rows as HF has them), q/k/v biases
//   phi3        llama's blocks, RoPE rotate_half, fused         token_embd, blk.N.attn_norm, attn_qkv (rows
//               projections, longrope scaling when the file     q|k|v), attn_output, ffn_norm, ffn_up (rows
//               has rope_factors_long/short (phi3.rope.         gate|up), ffn_down, output_norm, output;
//               scaling.original_context_length, .attn_factor)  rope_factors_long, rope_factors_short
//   gemma       llama's blocks with GeGLU, RoPE rotate_half,    as llama, never an output (always tied);
//               embeddings × √E, head size from gemma.attention. norms hold 1 + w (convert_hf_to_gguf adds
//               key_length                                      the 1; attend's gemma norms hold it too)
//   gpt2        decoder, LayerNorm, GELU-tanh, learned          token_embd, position_embd, blk.N.attn_norm,
//               positions, biases                               attn_qkv (rows q|k|v), attn_output, ffn_norm,
//                                                               ffn_up, ffn_down, output_norm, output
//   bert        encoder (no head), post-norm, GELU, learned     token_embd, token_types, position_embd,
//               positions, token types, embedding LayerNorm     token_embd_norm, blk.N.attn_q/k/v, attn_output,
//                                                               attn_output_norm, ffn_up, ffn_down, layer_output_norm
// The RMSNorm architectures share the keys <arch>.attention.layer_norm_rms_epsilon,
// rope.freq_base (default 10000), attention.key_length/value_length (default E / heads) and
// attention.sliding_window (0 or absent: none; llama.cpp writes it for phi3, and attend writes it
// for any windowed model so the window survives a round trip — llama.cpp itself may ignore it).
// A GGUF matrix of dims {in, out} is attend's (out, in): the reader's shape() reverses dims.
//
// Loading keeps the weights' precision where attend's kernels read it (Transformer::
// converts_to_low_precision names the matrices): BF16 stays bf16 (borrowed from the mapping),
// Q8_0 becomes int8 with its f16 block scales widened (the same per-32-column blocks as
// attend's int8), Q4_0 becomes int8 too (its values −8..7 times the block scale are int8 values
// exactly); F32 is borrowed from the mapping; everything else is widened to f32.
// Refused, each with a message naming the file and key or tensor: other architectures (gemma2's
// soft-capping and alternating windows, ...), rope scaling other than phi3's longrope (llama3's
// rope_freqs, linear, yarn), partial rotary dimensions, mixture of experts, other tensor types.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/low_precision.hpp"
#include "attend/ops.hpp"
#include <optional>
#include "io/half_float.hpp"
#include "io/gguf.hpp"
#include "io/gguf_writer.hpp"
#include "io/loader_internal.hpp"
#include "io/mapped_file.hpp"

namespace attend {

namespace {


enum class Arch { llama, qwen2, phi3, gemma, gpt2, bert };
const char* gguf_name(Arch a) {
    switch (a) {
        case Arch::llama: return "llama";
        case Arch::qwen2: return "qwen2";
        case Arch::phi3: return "phi3";
        case Arch::gemma: return "gemma";
        case Arch::gpt2: return "gpt2";
        case Arch::bert: return "bert";
    }
    return "?";
}
// llama.cpp's RMSNorm + gated-MLP + RoPE decoders: one set of keys (the top of this file).
bool rms_arch(Arch a) { return a == Arch::llama || a == Arch::qwen2 || a == Arch::phi3 || a == Arch::gemma; }

// One of our parameters and where it lives in the GGUF file: a whole tensor, or (GPT-2's and
// Phi-3's fused attn_qkv, Phi-3's ffn_up) rows [row0, row1) of its outermost dimension.
struct Place {
    std::string ours, theirs;
    int64_t row0 = 0, row1 = -1;  // -1: the whole tensor
};

// Every parameter of a model of `c` as architecture `arch`, in llama.cpp's names.
std::vector<Place> places(const TransformerConfig& c, Arch arch) {
    std::vector<Place> out;
    const auto both = [&](const std::string& ours, const std::string& theirs, bool bias) {
        out.push_back({ours + ".weight", theirs + ".weight"});
        if (bias) out.push_back({ours + ".bias", theirs + ".bias"});
    };
    const bool ln = c.norm == NormType::layer_norm;
    out.push_back({"embeddings.token.weight", "token_embd.weight"});
    if (c.positions == PositionType::learned) out.push_back({"embeddings.position.weight", "position_embd.weight"});
    if (c.type_vocab_size > 0) out.push_back({"embeddings.token_type.weight", "token_types.weight"});
    if (c.embedding_norm) both("embeddings.norm", "token_embd_norm", ln);
    const int64_t A = c.attention_width(), kv = c.kv_heads() * c.head_dim(), F = c.d_ff;
    for (int64_t l = 0; l < c.n_layers; ++l) {
        const std::string ours = "layers." + std::to_string(l) + ".", blk = "blk." + std::to_string(l) + ".";
        if (arch == Arch::gpt2 || arch == Arch::phi3) {  // attn_qkv: rows q | k | v
            const int64_t start[] = {0, A, A + kv}, end[] = {A, A + kv, A + 2 * kv};
            const char* names[] = {"q_proj", "k_proj", "v_proj"};
            for (int i = 0; i < 3; ++i) {
                out.push_back({ours + "self_attn." + names[i] + ".weight", blk + "attn_qkv.weight", start[i], end[i]});
                if (c.bias) out.push_back({ours + "self_attn." + names[i] + ".bias", blk + "attn_qkv.bias", start[i], end[i]});
            }
        } else {
            both(ours + "self_attn.q_proj", blk + "attn_q", c.bias || c.qkv_bias);
            both(ours + "self_attn.k_proj", blk + "attn_k", c.bias || c.qkv_bias);
            both(ours + "self_attn.v_proj", blk + "attn_v", c.bias || c.qkv_bias);
        }
        both(ours + "self_attn.out_proj", blk + "attn_output", c.bias);
        both(ours + "self_attn_norm", blk + (arch == Arch::bert ? "attn_output_norm" : "attn_norm"), ln);
        if (arch == Arch::phi3) {  // ffn_up: rows gate | up
            out.push_back({ours + "ff.gate_proj.weight", blk + "ffn_up.weight", 0, F});
            out.push_back({ours + "ff.up_proj.weight", blk + "ffn_up.weight", F, 2 * F});
            both(ours + "ff.down_proj", blk + "ffn_down", c.bias);
        } else if (is_gated(c.activation)) {
            both(ours + "ff.gate_proj", blk + "ffn_gate", c.bias);
            both(ours + "ff.up_proj", blk + "ffn_up", c.bias);
            both(ours + "ff.down_proj", blk + "ffn_down", c.bias);
        } else {
            both(ours + "ff.linear1", blk + "ffn_up", c.bias);
            both(ours + "ff.linear2", blk + "ffn_down", c.bias);
        }
        both(ours + "ff_norm", blk + (arch == Arch::bert ? "layer_output_norm" : "ffn_norm"), ln);
    }
    if (c.final_norm) both("norm", "output_norm", ln);
    if (c.head == HeadType::lm && !c.tie_embeddings) out.push_back({"lm_head.weight", "output.weight"});
    return out;
}

// ---- reading ---------------------------------------------------------------------------

// A size from "<arch>.<key>": an integer in [1, limit].
int64_t size_key(const GgufFile& f, const std::string& key, int64_t limit) {
    const uint64_t v = f.get_u64(key);
    if (v < 1 || v > uint64_t(limit)) f.fail_key(key, std::to_string(v) + " is outside [1, " + std::to_string(limit) + "]");
    return int64_t(v);
}

float eps_key(const GgufFile& f, const std::string& key) {
    const float v = f.get_f32(key);
    if (!(v > 0.f && v < 1.f)) f.fail_key(key, "epsilon " + std::to_string(v) + " is not in (0, 1)");
    return v;
}

Arch arch_of(const GgufFile& f) {
    const std::string a = f.get_string("general.architecture");
    if (a == "llama" || a == "mistral") return Arch::llama;
    if (a == "qwen2") return Arch::qwen2;
    if (a == "phi3") return Arch::phi3;
    if (a == "gemma") return Arch::gemma;
    if (a == "gpt2") return Arch::gpt2;
    if (a == "bert") return Arch::bert;
    if (a == "gemma2")
        f.fail_key("general.architecture", "\"gemma2\" is refused: its logit soft-capping, extra post-norms and "
                                           "alternating sliding windows are not configurations attend has");
    f.fail_key("general.architecture",
               "\"" + a + "\" is not an architecture attend builds (llama, mistral, qwen2, phi3, gemma, gpt2, bert)");
}

// Phi-3's longrope: the rope_factors_long/short tensors (head_dim / 2 each, positive), the
// context they were trained at (phi3.rope.scaling.original_context_length) and the factor on
// cos and sin (phi3.rope.scaling.attn_factor; absent: HF's √(1 + ln(ctx / orig) / ln orig)).
RopeScaling longrope_of(const GgufFile& f, const TransformerConfig& c, const std::string& p) {
    RopeScaling r;
    r.rope_type = RopeScalingType::longrope;
    const int64_t half = c.head_dim() / 2;
    for (auto [name, list] : {std::pair{"rope_factors_short.weight", &r.short_factor},
                              std::pair{"rope_factors_long.weight", &r.long_factor}}) {
        const GgufTensorInfo* t = f.find_tensor(name);
        if (!t) bad_file(f.path(), std::string("has rope_factors_") + (list == &r.long_factor ? "short" : "long") +
                                  ".weight but no tensor " + name + " (longrope needs both)");
        if (t->dims.size() != 1 || int64_t(t->dims[0]) != half)
            bad_file(f.path(), "tensor '" + std::string(name) + "' " + to_string(t->shape()) + " must hold " +
                              std::to_string(half) + " factors (head size / 2)");
        *list = f.tensor_f32(*t).to_vector();
        for (size_t i = 0; i < list->size(); ++i)
            if (!(std::isfinite((*list)[i]) && (*list)[i] > 0.f))
                bad_file(f.path(), "tensor '" + std::string(name) + "' element " + std::to_string(i) + " is " +
                                  std::to_string((*list)[i]) + ", not a finite positive factor");
    }
    const std::string orig = p + "rope.scaling.original_context_length";
    if (!f.has(orig)) f.fail_key(orig, "missing (longrope's rope_factors tensors need the original context length)");
    r.original_max_position_embeddings = size_key(f, orig, ConfigLimits::max_positions);
    const double ratio = double(c.max_positions) / double(r.original_max_position_embeddings);
    const float hf = ratio <= 1.0 ? 1.f : float(std::sqrt(1.0 + std::log(ratio) / std::log(double(r.original_max_position_embeddings))));
    r.attention_factor = f.get_f32(p + "rope.scaling.attn_factor", hf);
    if (!(std::isfinite(r.attention_factor) && r.attention_factor > 0.f))
        f.fail_key(p + "rope.scaling.attn_factor", std::to_string(r.attention_factor) + " is not a finite positive factor");
    return r;
}

TransformerConfig config_of(const GgufFile& f, Arch arch) {
    const std::string p = f.get_string("general.architecture") + ".";
    TransformerConfig c = rms_arch(arch) ? llama2_7b() : arch == Arch::gpt2 ? gpt2_small() : bert_base();
    c.d_model = size_key(f, p + "embedding_length", ConfigLimits::d_model);
    c.n_layers = size_key(f, p + "block_count", ConfigLimits::n_layers);
    c.n_heads = size_key(f, p + "attention.head_count", ConfigLimits::d_model);
    c.n_kv_heads = f.has(p + "attention.head_count_kv") ? size_key(f, p + "attention.head_count_kv", ConfigLimits::d_model) : 0;
    c.d_ff = size_key(f, p + "feed_forward_length", ConfigLimits::d_ff);
    c.max_positions = size_key(f, p + "context_length", ConfigLimits::max_positions);
    const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
    if (!embd) bad_file(f.path(), "has no tensor token_embd.weight (the token embedding)");
    if (embd->dims.size() != 2) bad_file(f.path(), "tensor token_embd.weight has " + std::to_string(embd->dims.size()) + " dims, expected 2");
    c.vocab_size = int64_t(std::min<uint64_t>(embd->dims[1], uint64_t(ConfigLimits::vocab_size) + 1));
    if (f.has(p + "expert_count") && f.get_u32(p + "expert_count") > 0)
        f.fail_key(p + "expert_count", "mixture-of-experts models are refused (attend has no expert routing)");
    c.dropout = c.attention_dropout = 0.f;
    c.name = f.get_string("general.name", gguf_name(arch)) + " (" + f.path() + ")";
    if (rms_arch(arch)) {
        c.norm_eps = eps_key(f, p + "attention.layer_norm_rms_epsilon");
        c.rope_theta = f.get_f32(p + "rope.freq_base", 10000.f);
        if (!(c.rope_theta > 1.f && std::isfinite(c.rope_theta)))
            f.fail_key(p + "rope.freq_base", std::to_string(c.rope_theta) + " is not a finite base above 1");
        // llama.cpp's llama rope pairs (2i, 2i+1); its qwen2, phi3 and gemma are NEOX: HF's halves.
        c.rope_layout = arch == Arch::llama ? RopeLayout::interleaved : RopeLayout::rotate_half;
        // The head size: key_length where the file gives it (Gemma, Mistral-Nemo), else E / heads.
        const int64_t natural = c.d_model % c.n_heads == 0 ? c.d_model / c.n_heads : 0;
        const std::string key_length = p + "attention.key_length";
        const int64_t head = f.has(key_length) ? size_key(f, key_length, ConfigLimits::d_model) : natural;
        if (head == 0)
            bad_file(f.path(), p + "embedding_length " + std::to_string(c.d_model) + " is not a multiple of " + p +
                              "attention.head_count " + std::to_string(c.n_heads) + " and there is no " + key_length);
        c.head_size = head == natural ? 0 : head;
        for (const std::string& key : {p + "rope.dimension_count", p + "attention.value_length"})
            if (f.has(key) && f.get_u64(key) != uint64_t(head))
                f.fail_key(key, std::to_string(f.get_u64(key)) + " differs from the head size " + std::to_string(head) +
                                    ": partial rotary or odd value sizes are refused");
        const std::string swa = p + "attention.sliding_window";
        c.sliding_window = f.has(swa) ? int64_t(std::min<uint64_t>(f.get_u64(swa), ConfigLimits::max_positions)) : 0;
        const bool factors = f.find_tensor("rope_factors_long.weight") || f.find_tensor("rope_factors_short.weight");
        const std::string scaling = f.get_string(p + "rope.scaling.type", "none");
        if (arch == Arch::phi3 && factors && (scaling == "none" || scaling == "longrope" || scaling == "su")) {
            c.rope_scaling = longrope_of(f, c, p);
        } else {
            if (factors)
                bad_file(f.path(), std::string("tensor rope_factors_") + (f.find_tensor("rope_factors_long.weight") ? "long" : "short") +
                                  ".weight (longrope) is refused for " + gguf_name(arch) + " (attend reads it for phi3)");
            if (scaling != "none")
                f.fail_key(p + "rope.scaling.type", "\"" + scaling + "\": rope scaling is refused here (attend reads "
                                                    "plain RoPE and phi3's longrope factors)");
        }
        if (f.find_tensor("rope_freqs.weight"))
            bad_file(f.path(), "tensor rope_freqs.weight (Llama-3 rope scaling factors) is refused: attend reads plain RoPE");
        c.bias = false;
        c.qkv_bias = arch == Arch::qwen2;  // Qwen2: q/k/v biases, none on attn_output or the MLP
        if (arch != Arch::qwen2 && f.find_tensor("blk.0.attn_q.bias"))
            bad_file(f.path(), "tensor blk.0.attn_q.bias: " + std::string(gguf_name(arch)) +
                              " models with attention biases are refused (llama.cpp's qwen2 has them)");
        if (arch == Arch::gemma) {
            c.activation = Activation::geglu;
            c.embedding_scale = float(std::sqrt(double(c.d_model)));  // llama.cpp's gemma: inpL × √n_embd
            c.tie_embeddings = true;  // llama.cpp's gemma reads the output from token_embd
        } else {
            c.tie_embeddings = f.find_tensor("output.weight") == nullptr;
        }
    } else if (arch == Arch::gpt2) {
        c.norm_eps = eps_key(f, p + "attention.layer_norm_epsilon");
        c.tie_embeddings = f.find_tensor("output.weight") == nullptr;
        c.n_kv_heads = 0;
    } else {
        c.norm_eps = eps_key(f, p + "attention.layer_norm_epsilon");
        if (f.get_bool(p + "attention.causal", false)) f.fail_key(p + "attention.causal", "true: a causal BERT is refused");
        c.head = HeadType::none;
        const GgufTensorInfo* types = f.find_tensor("token_types.weight");
        c.type_vocab_size = types && types->dims.size() == 2 ? int64_t(std::min<uint64_t>(types->dims[1], 1u << 16)) : 0;
        c.n_kv_heads = 0;
    }
    try {
        c.validate();
    } catch (const Error& e) {
        bad_file(f.path(), e.what());
    }
    return c;
}

// An int8 matrix (rows, cols) from Q8_0 or Q4_0 blocks: each block's f16 scale widened, its
// values as int8 (Q4_0's q − 8). A negative scale flips its block's signs (attend's scales are
// ≥ 0). Rows [r0, r1) of the tensor.
Tensor int8_from_blocks(const GgufFile& f, const GgufTensorInfo& t, int64_t r0, int64_t r1) {
    const int64_t cols = int64_t(t.dims[0]), rows = r1 - r0, blocks = cols / 32;
    const GgmlTypeInfo& info = ggml_type_info(t.type);
    const unsigned char* src = f.tensor_data(t) + size_t(r0 * blocks) * info.block_bytes;
    std::vector<int8_t> values(size_t(rows * cols));
    std::vector<float> scales(size_t(rows * blocks));
    int8_t q[32];
    for (int64_t b = 0; b < rows * blocks; ++b, src += info.block_bytes) {
        uint16_t h;
        std::memcpy(&h, src, 2);
        float d = half_to_float(h);
        bool low = false;  // Q8_0's −128 has no positive twin
        if (t.type == GgmlType::Q8_0)
            for (int j = 0; j < 32; ++j) q[j] = int8_t(src[2 + j]);
        else
            for (int j = 0; j < 16; ++j) q[j] = int8_t((src[2 + j] & 15) - 8), q[j + 16] = int8_t((src[2 + j] >> 4) - 8);
        if (d < 0) {
            d = -d;
            for (int j = 0; j < 32; ++j) low = low || q[j] == -128, q[j] = int8_t(-q[j]);
        }
        if (low) bad_file(f.path(), "tensor '" + t.name + "' has a negative scale on a block holding -128");
        std::memcpy(values.data() + b * 32, q, 32);
        scales[size_t(b)] = d;
    }
    try {
        return low_precision_tensor(LowPrecisionMatrix::adopt_int8(rows, cols, values.data(), scales.data(), nullptr));
    } catch (const Error& e) {
        bad_file(f.path(), "tensor '" + t.name + "': " + e.what());
    }
}

// Our parameter `ours` from tensor t (rows [r0, r1) of it when r1 ≥ 0), in the precision the
// top of this file describes.
Tensor read_param(const GgufFile& f, const GgufTensorInfo& t, const std::string& ours, int64_t r0, int64_t r1) {
    const Shape shape = t.shape();
    const bool sliced = r1 >= 0;
    if (sliced && (r0 < 0 || r1 > shape[0] || r0 >= r1))
        bad_file(f.path(), "tensor '" + t.name + "' " + to_string(shape) + " has no rows [" + std::to_string(r0) + ", " +
                          std::to_string(r1) + ") for " + ours);
    if (!sliced) r0 = 0, r1 = shape[0];
    Shape part = shape;
    part[0] = r1 - r0;
    const bool matrix = shape.size() == 2 && Transformer::converts_to_low_precision(ours, part);
    if (matrix && (t.type == GgmlType::Q8_0 || t.type == GgmlType::Q4_0)) return int8_from_blocks(f, t, r0, r1);
    if (matrix && t.type == GgmlType::BF16) {
        const unsigned char* src = f.tensor_data(t) + size_t(r0 * shape[1]) * 2;
        const size_t bytes = size_t(part[0] * part[1]) * 2;
        if (f.mapping() && reinterpret_cast<uintptr_t>(src) % alignof(uint16_t) == 0)  // borrowed from the mapping
            return low_precision_tensor(LowPrecisionMatrix::adopt_bf16(
                part[0], part[1], reinterpret_cast<const uint16_t*>(src),
                std::make_shared<MappedSpan>(f.mapping(), size_t(src - f.bytes()), bytes)));
        std::vector<uint16_t> copy(bytes / 2);  // general.alignment 1 may leave it odd: copied
        std::memcpy(copy.data(), src, bytes);
        return low_precision_tensor(LowPrecisionMatrix::adopt_bf16(part[0], part[1], copy.data(), nullptr));
    }
    Tensor whole = f.tensor_f32(t);  // F32 borrowed from the mapping; others decoded
    return sliced ? whole.slice(0, r0, r1) : whole;
}

}  // namespace

LoadedModel load_gguf(const std::string& path) {
    GgufFile f = GgufFile::open(path);
    const Arch arch = arch_of(f);
    const TransformerConfig config = config_of(f, arch);
    uint64_t values = 0;
    for (const auto& t : f.tensors()) values += t.numel();
    check_config_fits_file(config, values, path);

    std::map<std::string, Tensor> ours;
    std::set<std::string> used;
    if (config.rope_scaling.rope_type == RopeScalingType::longrope)  // read into the config
        used.insert({"rope_factors_long.weight", "rope_factors_short.weight"});
    const std::vector<Place> wanted = places(config, arch);
    // A fused tensor (attn_qkv, phi3's ffn_up) must hold exactly its parts' rows: a count that
    // is off means the metadata describes another model, even where the slices would fit.
    std::map<std::string, std::string> parts;  // theirs → "q_proj 32 | k_proj 16 | ..."
    std::map<std::string, int64_t> rows;
    for (const Place& p : wanted)
        if (p.row1 >= 0) {
            const std::string part = p.ours.substr(0, p.ours.rfind('.'));
            parts[p.theirs] += (parts[p.theirs].empty() ? "" : " | ") + part.substr(part.rfind('.') + 1) + " " +
                               std::to_string(p.row1 - p.row0);
            rows[p.theirs] = std::max(rows[p.theirs], p.row1);
        }
    for (const auto& [name, n] : rows)
        if (const GgufTensorInfo* t = f.find_tensor(name); t && (t->dims.empty() || int64_t(t->dims.back()) != n))
            bad_file(path, "tensor '" + name + "' " + to_string(t->shape()) + " has " +
                          std::to_string(t->dims.empty() ? 0 : t->dims.back()) + " rows; the " + gguf_name(arch) +
                          " model its metadata describes needs " + std::to_string(n) + " (" + parts[name] + ")");
    f.make_resident();  // the header has vouched for the file: read it (unless mapped)
    for (const Place& p : wanted) {
        const GgufTensorInfo* t = f.find_tensor(p.theirs);
        if (!t) bad_file(path, "has no tensor " + p.theirs + " (for parameter " + p.ours + " of the " + gguf_name(arch) + " model)");
        ours[p.ours] = read_param(f, *t, p.ours, p.row0, p.row1);
        used.insert(p.theirs);
    }
    for (const auto& t : f.tensors())
        if (!used.count(t.name))
            bad_file(path, "tensor '" + t.name + "' " + to_string(t.shape()) + " matches no parameter of the " + gguf_name(arch) +
                          " model its metadata describes");
    LoadedModel loaded{.model = Transformer(config, ParameterInit::uninitialised()), .config = config,
                       .format = ModelFormat::gguf, .path = path, .tokenizer_path = {}};
    adopt_parameters(loaded.model, ours, path);
    const auto id = [&](const char* key) -> int64_t {
        if (!f.has(key)) return -1;
        const uint32_t v = f.get_u32(key);
        if (v >= config.vocab_size) f.fail_key(key, std::to_string(v) + " is not a token of the model's " +
                                                        std::to_string(config.vocab_size) + "-token vocabulary");
        return v;
    };
    loaded.bos_id = id("tokenizer.ggml.bos_token_id");
    loaded.eos_id = id("tokenizer.ggml.eos_token_id");
    loaded.pad_id = id("tokenizer.ggml.padding_token_id");
    // The tokenizer is in the file's metadata (read by tokenizers/gguf_vocab.hpp) when it has one.
    if (f.has("tokenizer.ggml.model")) loaded.tokenizer_path = path;
    return loaded;
}

// ---- writing ---------------------------------------------------------------------------

namespace {

// Which llama.cpp architecture computes what a model of `c` computes; an Error naming the
// first difference otherwise.
Arch arch_for(const TransformerConfig& c, const std::string& path) {
    const auto need = [&](bool ok, const std::string& what) {
        if (!ok) bad_file(path, "model '" + c.name + "' cannot be written as GGUF: " + what);
    };
    const bool gemma = c.activation == Activation::geglu;
    need(c.embedding_scale == (gemma ? float(std::sqrt(double(c.d_model))) : 1.f),
         gemma ? "a GeGLU model must be Gemma's, embeddings × √d_model" : "its embeddings are scaled (of llama.cpp's "
                 "architectures only gemma does that, by √d_model, with GeGLU)");
    if (c.shape == ModelShape::encoder) {
        need(c.head == HeadType::none, std::string("llama.cpp's bert holds the encoder alone; this model has a ") +
                                           name_of(c.head) + " head (write the encoder alone: encoder_only)");
        need(c.norm == NormType::layer_norm && c.norm_placement == NormPlacement::post && c.embedding_norm &&
                 !c.final_norm && c.positions == PositionType::learned && c.bias &&
                 (c.activation == Activation::gelu || c.activation == Activation::gelu_tanh) && c.n_kv_heads == 0,
             "an encoder must be BERT's (post-norm LayerNorm, embedding norm, learned positions, biases, GELU)");
        return Arch::bert;
    }
    need(c.shape == ModelShape::decoder, "encoder-decoder models have no llama.cpp architecture");
    need(c.head == HeadType::lm, "a decoder needs its LM head");
    need(c.norm_placement == NormPlacement::pre && c.final_norm && !c.embedding_norm && c.type_vocab_size == 0,
         "decoders must be pre-norm with a final norm, no embedding norm and no token types");
    if (c.positions == PositionType::rope) {
        need(c.norm == NormType::rms_norm && is_gated(c.activation) && !c.bias,
             "a RoPE decoder must be Llama's (RMSNorm, SwiGLU or Gemma's GeGLU, no biases but Qwen2's on q/k/v)");
        const RopeScalingType scaling = c.rope_scaling.rope_type;
        const Arch arch = gemma ? Arch::gemma : c.qkv_bias ? Arch::qwen2
                                              : scaling == RopeScalingType::longrope ? Arch::phi3 : Arch::llama;
        need(!gemma || !c.qkv_bias, "llama.cpp's gemma has no q/k/v biases");
        need(!gemma || c.tie_embeddings, "llama.cpp's gemma reads its output matrix from token_embd (untied heads refused)");
        need(scaling == RopeScalingType::none || (arch == Arch::phi3 && scaling == RopeScalingType::longrope),
             std::string("rope_scaling ") + name_of(scaling) + " is not written (attend writes plain RoPE, and longrope "
                                                               "as phi3; llama3's rope_freqs and linear are not written yet)");
        // llama.cpp's phi3 splits attn_qkv at n_embd: q must be as wide as the model.
        need(arch != Arch::phi3 || c.attention_width() == c.d_model,
             "a longrope model is written as phi3, whose fused attn_qkv needs heads × head size = d_model");
        return arch;
    }
    need(c.positions == PositionType::learned && c.norm == NormType::layer_norm && c.bias &&
             c.activation == Activation::gelu_tanh && c.n_kv_heads == 0,
         "a decoder with learned positions must be GPT-2's (LayerNorm, biases, GELU-tanh, no GQA)");
    return Arch::gpt2;
}

GgmlType parse_ggml_type(const std::string& name) {
    if (name == "f32") return GgmlType::F32;
    if (name == "f16") return GgmlType::F16;
    if (name == "bf16") return GgmlType::BF16;
    if (name == "q8_0") return GgmlType::Q8_0;
    if (name == "q4_0") return GgmlType::Q4_0;
    throw Error("GGUF tensor type '" + name + "' is not one attend writes (f32, f16, bf16, q8_0, q4_0)");
}

// llama.cpp's general.file_type for a file of mostly `t` (its LLAMA_FTYPE numbers).
uint32_t file_type(GgmlType t) {
    switch (t) {
        case GgmlType::F32: return 0;
        case GgmlType::F16: return 1;
        case GgmlType::Q4_0: return 2;
        case GgmlType::Q8_0: return 7;
        case GgmlType::BF16: return 32;
        default: return 0;
    }
}

// HF's rotate_half q/k rows in Meta's interleaved order, per head: row h·D + 2i + j of the
// result is row h·D + j·D/2 + i of w (j ∈ {0, 1}) — what convert_hf_to_gguf's permute does.
// `inverse`: back from interleaved to rotate_half. Rows of a matrix or of a bias vector.
Tensor interleave_rows(const Tensor& w, int64_t heads, bool inverse = false) {
    const Tensor dense = w.low_precision() ? w.low_precision()->dequantize() : w.contiguous();
    const int64_t rows = dense.size(0), cols = dense.numel() / rows, D = rows / heads;
    Tensor out = Tensor::empty(dense.shape());
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < D / 2; ++i)
            for (int64_t j = 0; j < 2; ++j)
            {
                const int64_t pair = h * D + 2 * i + j, half = h * D + j * D / 2 + i;
                std::memcpy(out.data() + (inverse ? half : pair) * cols, dense.data() + (inverse ? pair : half) * cols,
                            size_t(cols) * 4);
            }
    return out;
}

// The tokenizer.ggml.* keys of a vocabulary (Tokenizer::vocabulary), padded with unused
// tokens up to the model's vocabulary (llama.cpp sizes the vocabulary by the token list).
void write_vocabulary(TokenizerVocabulary v, const std::string& source, int64_t vocab_size, GgufWriter& w,
                      const std::string& path) {
    if (int64_t(v.tokens.size()) > vocab_size)
        bad_file(path, "the tokenizer " + source + " has " + std::to_string(v.tokens.size()) +
                      " tokens, more than the model's vocabulary of " + std::to_string(vocab_size));
    for (int64_t id = int64_t(v.tokens.size()); id < vocab_size; ++id) {
        v.tokens.push_back("[PAD" + std::to_string(id) + "]");
        v.types.push_back(5);  // unused
        if (v.model == "llama") v.scores.push_back(0.f);
    }
    w.set_string("tokenizer.ggml.model", v.model);
    w.set_string("tokenizer.ggml.pre", !v.pre.empty() ? v.pre : v.model == "gpt2" ? "gpt-2" : "default");
    w.set_strings("tokenizer.ggml.tokens", v.tokens);
    if (v.model == "llama") w.set_f32s("tokenizer.ggml.scores", v.scores);
    w.set_i32s("tokenizer.ggml.token_type", v.types);
    if (v.model == "gpt2") w.set_strings("tokenizer.ggml.merges", v.merges);
    if (v.model == "llama") {
        w.set_bool("tokenizer.ggml.add_bos_token", true);  // as Llama's tokenizer does
        w.set_bool("tokenizer.ggml.add_eos_token", false);
    }
}

}  // namespace

void save_gguf(const std::string& path, const Transformer& model, const GgufWriteOptions& options) {
    NoGradGuard no_grad;
    TransformerConfig c = model.config();
    // llama.cpp's bert is the encoder alone: a head is left out only when the caller says so.
    if (c.shape == ModelShape::encoder && options.encoder_only) c.head = HeadType::none, c.n_classes = 0;
    const Arch arch = arch_for(c, path);
    const GgmlType type = parse_ggml_type(options.type);
    const std::string a = gguf_name(arch), p = a + ".";
    GgufWriter w;
    w.set_string("general.architecture", a);
    w.set_string("general.name", options.name.empty() ? c.name : options.name);
    w.set_u32("general.file_type", file_type(type));
    if (type == GgmlType::Q8_0 || type == GgmlType::Q4_0) w.set_u32("general.quantization_version", 2);
    w.set_u32(p + "context_length", uint32_t(c.max_positions));
    w.set_u32(p + "embedding_length", uint32_t(c.d_model));
    w.set_u32(p + "block_count", uint32_t(c.n_layers));
    w.set_u32(p + "feed_forward_length", uint32_t(c.d_ff));
    w.set_u32(p + "attention.head_count", uint32_t(c.n_heads));
    if (rms_arch(arch)) {
        w.set_u32(p + "attention.head_count_kv", uint32_t(c.kv_heads()));
        w.set_f32(p + "attention.layer_norm_rms_epsilon", c.norm_eps);
        w.set_f32(p + "rope.freq_base", c.rope_theta);
        w.set_u32(p + "rope.dimension_count", uint32_t(c.head_dim()));
        if (arch == Arch::gemma || c.head_size != 0) {  // convert_hf_to_gguf writes them for gemma
            w.set_u32(p + "attention.key_length", uint32_t(c.head_dim()));
            w.set_u32(p + "attention.value_length", uint32_t(c.head_dim()));
        }
        if (arch == Arch::llama) w.set_u32(p + "vocab_size", uint32_t(c.vocab_size));
        if (c.sliding_window > 0 || arch == Arch::phi3)  // phi3: 0 is "none", as convert_hf_to_gguf writes
            w.set_u32(p + "attention.sliding_window", uint32_t(c.sliding_window));
        if (arch == Arch::phi3) {
            w.set_u32(p + "rope.scaling.original_context_length", uint32_t(c.rope_scaling.original_max_position_embeddings));
            w.set_f32(p + "rope.scaling.attn_factor", c.rope_scaling.attention_factor);
        }
    } else {
        w.set_f32(p + "attention.layer_norm_epsilon", c.norm_eps);
    }
    if (arch == Arch::bert) {
        w.set_bool(p + "attention.causal", false);
        w.set_u32(p + "pooling_type", 0);  // none: the hidden states, as attend's head-less encoder gives
    }
    if (options.vocabulary) write_vocabulary(*options.vocabulary, options.vocabulary_source, c.vocab_size, w, path);
    const auto special = [&](const char* key, int64_t id) {
        if (id >= c.vocab_size) bad_file(path, std::string(key) + " " + std::to_string(id) + " is outside the model's vocabulary");
        if (id >= 0) w.set_u32(key, uint32_t(id));
    };
    special("tokenizer.ggml.bos_token_id", options.bos_id);
    special("tokenizer.ggml.eos_token_id", options.eos_id);
    special("tokenizer.ggml.padding_token_id", options.pad_id);
    special("tokenizer.ggml.unknown_token_id", options.unk_id);
    if (options.vocabulary && arch == Arch::bert) {
        special("tokenizer.ggml.cls_token_id", options.cls_id);
        special("tokenizer.ggml.seperator_token_id", options.sep_id);  // llama.cpp's spelling
        special("tokenizer.ggml.mask_token_id", options.mask_id);
        w.set_u32("tokenizer.ggml.token_type_count", uint32_t(c.type_vocab_size));
    }

    const NamedParameters params = const_cast<Transformer&>(model).parameters();
    std::map<std::string, Tensor*> by_name(params.begin(), params.end());
    const std::vector<Place> all = places(c, arch);
    std::map<std::string, size_t> n_parts;  // fused tensors (attn_qkv, phi3's ffn_up): parts each
    for (const Place& pl : all)
        if (pl.row1 >= 0) ++n_parts[pl.theirs];
    std::map<std::string, std::vector<Tensor>> fused;  // their parts so far, in row order
    // llama.cpp's llama rotates Meta's pairs; its qwen2, phi3 and gemma rotate HF's halves.
    const RopeLayout layout = arch == Arch::llama ? RopeLayout::interleaved : RopeLayout::rotate_half;
    for (const Place& pl : all) {
        auto it = by_name.find(pl.ours);
        if (it == by_name.end()) bad_file(path, "model '" + c.name + "' has no parameter " + pl.ours);
        Tensor t = *it->second;
        const bool q = pl.ours.find("self_attn.q_proj.") != std::string::npos,
                   k = pl.ours.find("self_attn.k_proj.") != std::string::npos;
        if (c.positions == PositionType::rope && c.rope_layout != layout && (q || k))  // rows and their biases
            t = interleave_rows(t, q ? c.n_heads : c.kv_heads(), layout == RopeLayout::rotate_half);
        if (pl.row1 >= 0) {
            fused[pl.theirs].push_back(t.low_precision() ? t.low_precision()->dequantize() : t.contiguous());
            if (fused[pl.theirs].size() < n_parts[pl.theirs]) continue;
            t = concat(fused[pl.theirs], 0);
        }
        // Matrices attend keeps in low precision take the asked type; norms, biases and
        // position tables stay F32, as llama.cpp's converter keeps them.
        const bool matrix = t.dim() == 2 && Transformer::converts_to_low_precision(pl.ours, t.shape());
        GgmlType stored = matrix ? type : GgmlType::F32;
        if (t.shape().back() % ggml_type_info(stored).block != 0) stored = GgmlType::F32;  // no whole blocks
        w.add_tensor(pl.theirs, t, stored);
    }
    if (arch == Arch::phi3) {  // longrope's factors, F32 (head size / 2 each), as convert_hf_to_gguf adds them
        const RopeScaling& r = c.rope_scaling;
        w.add_tensor("rope_factors_long.weight", Tensor::from_vector({int64_t(r.long_factor.size())}, r.long_factor), GgmlType::F32);
        w.add_tensor("rope_factors_short.weight", Tensor::from_vector({int64_t(r.short_factor.size())}, r.short_factor), GgmlType::F32);
    }
    w.write(path);
}

}  // namespace attend
