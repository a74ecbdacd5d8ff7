// io/hf_names.cpp — Hugging Face's and torch's names (and layouts) mapped onto ours.
//
// One function per format walks the config the way models/transformer.cpp builds the model
// and, for every parameter of ours, takes the source tensor that holds it: renamed, or
// transposed (GPT-2's Conv1D keeps weights as (in, out), nn.Linear as (out, in)), or cut out
// of a packed matrix (GPT-2's c_attn and torch's in_proj_weight hold q, k and v together).
#include "attend/io/hf_names.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/models/transformer.hpp"
#include "attend/nn/module.hpp"
#include "ops/transpose.hpp"

namespace attend {

const char* name_of(CheckpointFormat f) {
    switch (f) {
        case CheckpointFormat::hf_gpt2: return "hf_gpt2";
        case CheckpointFormat::hf_bert: return "hf_bert";
        case CheckpointFormat::hf_llama: return "hf_llama";
        case CheckpointFormat::hf_phi3: return "hf_phi3";
        case CheckpointFormat::hf_gemma: return "hf_gemma";
        case CheckpointFormat::torch_transformer: return "torch_transformer";
    }
    return "?";
}

CheckpointFormat checkpoint_format(const std::string& name) {
    for (CheckpointFormat f : {CheckpointFormat::hf_gpt2, CheckpointFormat::hf_bert, CheckpointFormat::hf_llama,
                               CheckpointFormat::hf_phi3, CheckpointFormat::hf_gemma, CheckpointFormat::torch_transformer})
        if (name == name_of(f)) return f;
    ATTEND_CHECK(false, "unknown checkpoint format '", name,
                 "'; known: hf_gpt2, hf_bert, hf_llama, hf_phi3, hf_gemma, torch_transformer");
    return {};
}

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Takes tensors out of a source dict, remembering which were taken, and writes ours. The
// dict is the Converter's to consume: a tensor copied into a new layout is dropped from it
// (take_for_copy), so a loader's mapped file can release it before the next is read.
class Converter {
public:
    Converter(const TransformerConfig& config, std::map<std::string, Tensor>& source, const std::string& body)
        : c(config), source_(source) {
        // The body prefix (GPT2LMHeadModel's "transformer.") is used when the dict has it.
        for (const auto& [name, t] : source)
            if (name.compare(0, body.size(), body) == 0) {
                body_ = body;
                break;
            }
    }

    // The source tensor `name` (under the body prefix when `in_body`); `alternative`, when
    // given, is tried too (gamma for weight). Missing: an Error naming ours and theirs.
    Tensor& take(const std::string& name, const std::string& ours, bool in_body = true,
                 const std::string& alternative = "") {
        const std::string key = (in_body ? body_ : "") + name;
        auto it = source_.find(key);
        if (it == source_.end() && !alternative.empty()) it = source_.find((in_body ? body_ : "") + alternative);
        ATTEND_CHECK(it != source_.end(), "the checkpoint has no tensor ", key,
                     alternative.empty() ? "" : " (nor " + (in_body ? body_ : "") + alternative + ")",
                     ", needed for parameter ", ours, " of model '", c.name, "'");
        used_.insert(it->first);
        return it->second;
    }
    // The same, for a tensor that is read once into a copy of another layout: the dict's
    // handle is dropped (its name stays, as used), so the caller's is the last one.
    // A bf16 source (a loader keeps a bf16 checkpoint's matrices in bf16) is widened here, to
    // be re-laid out in fp32, and its copies go back to bf16 through `relaid` — exactly, since
    // every value came from bf16. Keeping it simple beats a transpose per storage type.
    struct ForCopy {
        Tensor w;          // fp32
        bool bf16 = false;  // the source was bf16
        Tensor relaid(const Tensor& copy) const {
            return bf16 ? low_precision_tensor(LowPrecisionMatrix::quantize(copy, WeightType::bf16)) : copy;
        }
        // partᵀ (part: w or a block of its columns) as our (out, in) weight. fp32 stays where
        // the checkpoint has it, as the transposed view linear() reads in place
        // (ops.hpp is_input_major): GPT-2 small's 340 MB of Conv1D weights are then mapped,
        // not written out again — on this VM first touching fresh memory cost 0.15–0.7 s, more
        // than the transpose. bf16 is re-laid into a bf16 copy (LowPrecisionMatrix holds rows).
        Tensor transposed_weight(const Tensor& part) const {
            return bf16 ? relaid(transposed(part)) : part.transpose(0, 1);
        }
    };
    ForCopy take_for_copy(const std::string& name, const std::string& ours) {
        Tensor t = std::exchange(take(name, ours), Tensor());
        if (const LowPrecisionMatrix* m = t.low_precision()) {
            ATTEND_CHECK(m->type() == WeightType::bf16, "tensor ", name, " is ", name_of(m->type()),
                         "; only bf16 sources are re-laid out");
            return {m->dequantize(), true};
        }
        return {t, false};
    }
    void skip(const std::string& name, bool in_body = true) { used_.insert((in_body ? body_ : "") + name); }

    void put(const std::string& ours, const Tensor& t) {
        ATTEND_CHECK(!out.count(ours), "parameter ", ours, " given twice (a bug in the name mapping)");
        out[ours] = t;
    }
    // nn.Linear layout: (out, in) weight, (out) bias.
    void linear(const std::string& ours, const std::string& theirs, bool bias, bool in_body = true) {
        put(ours + ".weight", take(theirs + ".weight", ours + ".weight", in_body));
        if (bias) put(ours + ".bias", take(theirs + ".bias", ours + ".bias", in_body));
    }
    // GPT-2's Conv1D: (in, out) weight, so ours is its transpose.
    void conv1d(const std::string& ours, const std::string& theirs) {
        const ForCopy w = take_for_copy(theirs + ".weight", ours + ".weight");
        ATTEND_CHECK(w.w.dim() == 2, "tensor ", theirs, ".weight has shape ", to_string(w.w.shape()), ", expected a matrix");
        put(ours + ".weight", w.transposed_weight(w.w));
        put(ours + ".bias", take(theirs + ".bias", ours + ".bias"));
    }
    void norm(const std::string& ours, const std::string& theirs, bool in_body = true) {
        if (norm_weight_offset != 0.f) {
            // Gemma's RMSNorm scales by (1 + w): ours by w' = 1 + w, formed once here in float
            // as Gemma forms it on every call (llama.cpp's GGUF files store w' too).
            const ForCopy w = take_for_copy(theirs + ".weight", ours + ".weight");
            const Tensor src = w.w.contiguous();
            Tensor shifted = Tensor::empty(src.shape());
            for (int64_t i = 0; i < src.numel(); ++i) shifted.data()[i] = src.data()[i] + norm_weight_offset;
            put(ours + ".weight", shifted);
        } else {
            put(ours + ".weight", take(theirs + ".weight", ours + ".weight", in_body, theirs + ".gamma"));
        }
        if (c.norm == NormType::layer_norm)
            put(ours + ".bias", take(theirs + ".bias", ours + ".bias", in_body, theirs + ".beta"));
    }
    // Row blocks of a packed nn.Linear weight (out = Σ rows[i], in) as separate parameters:
    // Phi-3's qkv_proj (q | k | v) and gate_up_proj (gate | up).
    void split_rows(const std::string& theirs, const std::vector<std::pair<std::string, int64_t>>& ours) {
        int64_t rows = 0;
        for (const auto& [name, n] : ours) rows += n;
        const ForCopy w = take_for_copy(theirs, ours.front().first + ", ...");
        ATTEND_CHECK(w.w.dim() == 2 && w.w.size(0) == rows && w.w.size(1) == c.d_model, "tensor ", theirs,
                     " has shape ", to_string(w.w.shape()), ", expected (", rows, ", ", c.d_model, ")");
        int64_t at = 0;
        for (const auto& [name, n] : ours) {
            put(name, w.relaid(w.w.slice(0, at, at + n).contiguous()));
            at += n;
        }
    }
    float norm_weight_offset = 0.f;  // hf_gemma: 1

    // wᵀ, contiguous, written once into the buffer that becomes the parameter. w (R, C) may
    // be a strided view (a column block of c_attn).
    static Tensor transposed(const Tensor& w) {
        ATTEND_CHECK(w.dim() == 2, "expected a matrix to transpose, got shape ", to_string(w.shape()));
        Tensor out = Tensor::empty({w.size(1), w.size(0)});  // (C, R)
        transpose_into(w.data(), w.size(0), w.size(1), w.strides()[0], w.strides()[1], out.data());
        return out;
    }

    std::vector<std::string> unused() const {
        std::vector<std::string> names;
        for (const auto& [name, t] : source_) {
            if (used_.count(name)) continue;
            // Buffers, not parameters: GPT-2's causal mask, BERT's position ids, RoPE's frequencies.
            if (ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias") ||
                ends_with(name, "embeddings.position_ids") || ends_with(name, "rotary_emb.inv_freq"))
                continue;
            names.push_back(name);
        }
        return names;
    }

    const TransformerConfig& c;
    std::map<std::string, Tensor> out;

private:
    std::map<std::string, Tensor>& source_;
    std::string body_;
    std::set<std::string> used_;
};

std::string layer(int64_t l) { return "layers." + std::to_string(l); }

// The LM head: tied (the source's copy, if any, is the embedding's twin) or its own matrix.
void lm_head(Converter& cv, const std::string& theirs) {
    if (cv.c.tie_embeddings)
        cv.skip(theirs, false);
    else
        cv.put("lm_head.weight", cv.take(theirs, "lm_head.weight", false));
}

void convert_gpt2(Converter& cv) {
    const auto& c = cv.c;
    const int64_t E = c.d_model;
    cv.put("embeddings.token.weight", cv.take("wte.weight", "embeddings.token.weight"));
    cv.put("embeddings.position.weight", cv.take("wpe.weight", "embeddings.position.weight"));
    for (int64_t l = 0; l < c.n_layers; ++l) {
        const std::string h = "h." + std::to_string(l) + ".", ours = layer(l) + ".";
        // c_attn: x · W + b with W (E, 3E) = [W_q | W_k | W_v] by columns.
        // Three transposed column blocks (views of the source, or bf16 copies); the biases stay views.
        const Converter::ForCopy wc = cv.take_for_copy(h + "attn.c_attn.weight", ours + "self_attn.{q,k,v}_proj.weight");
        const Tensor& w = wc.w;
        const Tensor& b = cv.take(h + "attn.c_attn.bias", ours + "self_attn.{q,k,v}_proj.bias");
        ATTEND_CHECK(w.dim() == 2 && w.size(1) == 3 * E && b.dim() == 1 && b.size(0) == 3 * E, h,
                     "attn.c_attn has weight ", to_string(w.shape()), " and bias ", to_string(b.shape()),
                     ", expected (", E, ", ", 3 * E, ") and (", 3 * E, ")");
        const char* names[] = {"q_proj", "k_proj", "v_proj"};
        for (int64_t i = 0; i < 3; ++i) {
            cv.put(ours + "self_attn." + names[i] + ".weight", wc.transposed_weight(w.slice(1, i * E, (i + 1) * E)));
            cv.put(ours + "self_attn." + names[i] + ".bias", b.slice(0, i * E, (i + 1) * E).contiguous());
        }
        cv.conv1d(ours + "self_attn.out_proj", h + "attn.c_proj");
        cv.norm(ours + "self_attn_norm", h + "ln_1");
        cv.conv1d(ours + "ff.linear1", h + "mlp.c_fc");
        cv.conv1d(ours + "ff.linear2", h + "mlp.c_proj");
        cv.norm(ours + "ff_norm", h + "ln_2");
    }
    if (c.final_norm) cv.norm("norm", "ln_f");
    if (c.head == HeadType::lm) lm_head(cv, "lm_head.weight");
}

void convert_bert(Converter& cv) {
    const auto& c = cv.c;
    cv.put("embeddings.token.weight", cv.take("embeddings.word_embeddings.weight", "embeddings.token.weight"));
    cv.put("embeddings.position.weight", cv.take("embeddings.position_embeddings.weight", "embeddings.position.weight"));
    if (c.type_vocab_size > 0)
        cv.put("embeddings.token_type.weight",
               cv.take("embeddings.token_type_embeddings.weight", "embeddings.token_type.weight"));
    if (c.embedding_norm) cv.norm("embeddings.norm", "embeddings.LayerNorm");
    for (int64_t l = 0; l < c.n_layers; ++l) {
        const std::string h = "encoder.layer." + std::to_string(l) + ".", ours = layer(l) + ".";
        cv.linear(ours + "self_attn.q_proj", h + "attention.self.query", c.bias);
        cv.linear(ours + "self_attn.k_proj", h + "attention.self.key", c.bias);
        cv.linear(ours + "self_attn.v_proj", h + "attention.self.value", c.bias);
        cv.linear(ours + "self_attn.out_proj", h + "attention.output.dense", c.bias);
        cv.norm(ours + "self_attn_norm", h + "attention.output.LayerNorm");
        cv.linear(ours + "ff.linear1", h + "intermediate.dense", c.bias);
        cv.linear(ours + "ff.linear2", h + "output.dense", c.bias);
        cv.norm(ours + "ff_norm", h + "output.LayerNorm");
    }
    if (c.final_norm) cv.norm("norm", "encoder.norm");  // not in BERT; a pre-norm variant would have one
    if (c.head == HeadType::mlm) {
        cv.linear("mlm.transform", "cls.predictions.transform.dense", true, false);
        cv.norm("mlm.norm", "cls.predictions.transform.LayerNorm", false);
        cv.put("mlm.bias", cv.take("cls.predictions.bias", "mlm.bias", false, "cls.predictions.decoder.bias"));
        cv.skip("cls.predictions.decoder.bias", false);  // newer checkpoints: a twin of cls.predictions.bias
        if (c.tie_embeddings)
            cv.skip("cls.predictions.decoder.weight", false);
        else
            cv.put("mlm.decoder.weight", cv.take("cls.predictions.decoder.weight", "mlm.decoder.weight", false));
    }
    if (c.head == HeadType::classifier) {
        cv.linear("pooler", "pooler.dense", true);
        cv.linear("classifier", "classifier", true, false);
    }
}

// Llama and the families laid out like it: Mistral and Qwen2 (hf_llama; Qwen2's q/k/v
// biases come with config.qkv_bias), Gemma (hf_gemma: norms stored as w for (1 + w)), Phi-3
// (hf_phi3: q|k|v packed in qkv_proj, gate|up in gate_up_proj, split here by rows).
void convert_llama(Converter& cv, CheckpointFormat format) {
    const auto& c = cv.c;
    ATTEND_CHECK(c.positions != PositionType::rope || c.rope_layout == RopeLayout::rotate_half,
                 "Hugging Face Llama checkpoints order q/k for rope_layout=rotate_half; model '", c.name,
                 "' has rope_layout=", name_of(c.rope_layout));
    if (format == CheckpointFormat::hf_gemma) cv.norm_weight_offset = 1.f;
    const bool packed = format == CheckpointFormat::hf_phi3;
    ATTEND_CHECK(!packed || (!c.bias && !c.qkv_bias && is_gated(c.activation)), "hf_phi3 checkpoints have packed ",
                 "qkv_proj and gate_up_proj without biases; model '", c.name, "' does not fit");
    const bool in_bias = c.bias || c.qkv_bias;
    const int64_t A = c.attention_width(), kv = c.kv_heads() * c.head_dim();
    cv.put("embeddings.token.weight", cv.take("embed_tokens.weight", "embeddings.token.weight"));
    for (int64_t l = 0; l < c.n_layers; ++l) {
        const std::string h = "layers." + std::to_string(l) + ".", ours = layer(l) + ".";
        if (packed) {
            cv.split_rows(h + "self_attn.qkv_proj.weight", {{ours + "self_attn.q_proj.weight", A},
                                                            {ours + "self_attn.k_proj.weight", kv},
                                                            {ours + "self_attn.v_proj.weight", kv}});
        } else {
            cv.linear(ours + "self_attn.q_proj", h + "self_attn.q_proj", in_bias);
            cv.linear(ours + "self_attn.k_proj", h + "self_attn.k_proj", in_bias);
            cv.linear(ours + "self_attn.v_proj", h + "self_attn.v_proj", in_bias);
        }
        cv.linear(ours + "self_attn.out_proj", h + "self_attn.o_proj", c.bias);
        cv.norm(ours + "self_attn_norm", h + "input_layernorm");
        if (packed) {
            cv.split_rows(h + "mlp.gate_up_proj.weight", {{ours + "ff.gate_proj.weight", c.d_ff},
                                                          {ours + "ff.up_proj.weight", c.d_ff}});
            cv.linear(ours + "ff.down_proj", h + "mlp.down_proj", false);
        } else if (is_gated(c.activation)) {
            cv.linear(ours + "ff.gate_proj", h + "mlp.gate_proj", c.bias);
            cv.linear(ours + "ff.up_proj", h + "mlp.up_proj", c.bias);
            cv.linear(ours + "ff.down_proj", h + "mlp.down_proj", c.bias);
        } else {
            cv.linear(ours + "ff.linear1", h + "mlp.up_proj", c.bias);
            cv.linear(ours + "ff.linear2", h + "mlp.down_proj", c.bias);
        }
        cv.norm(ours + "ff_norm", h + "post_attention_layernorm");
    }
    if (c.final_norm) cv.norm("norm", "norm");
    if (c.head == HeadType::lm) lm_head(cv, "lm_head.weight");
}

// torch.nn.MultiheadAttention: in_proj_weight rows [W_q; W_k; W_v], in_proj_bias likewise.
void torch_attention(Converter& cv, const std::string& ours, const std::string& theirs) {
    const auto& c = cv.c;
    const int64_t E = c.d_model, kv = c.kv_heads() * c.head_dim();
    const Tensor& w = cv.take(theirs + ".in_proj_weight", ours + ".{q,k,v}_proj.weight");
    ATTEND_CHECK(w.dim() == 2 && w.size(0) == E + 2 * kv, theirs, ".in_proj_weight has shape ", to_string(w.shape()),
                 ", expected (", E + 2 * kv, ", ", E, ")");
    const int64_t start[] = {0, E, E + kv}, end[] = {E, E + kv, E + 2 * kv};
    const char* names[] = {"q_proj", "k_proj", "v_proj"};
    for (int i = 0; i < 3; ++i) cv.put(ours + "." + names[i] + ".weight", w.slice(0, start[i], end[i]).contiguous());
    if (c.bias) {
        const Tensor& b = cv.take(theirs + ".in_proj_bias", ours + ".{q,k,v}_proj.bias");
        for (int i = 0; i < 3; ++i) cv.put(ours + "." + names[i] + ".bias", b.slice(0, start[i], end[i]).contiguous());
    }
    cv.linear(ours + ".out_proj", theirs + ".out_proj", c.bias);
}

void convert_torch_transformer(Converter& cv) {
    const auto& c = cv.c;
    cv.put("embeddings.token.weight", cv.take("embedding.weight", "embeddings.token.weight", false));
    if (c.positions == PositionType::learned)
        cv.put("embeddings.position.weight", cv.take("position.weight", "embeddings.position.weight", false));
    for (int64_t l = 0; l < c.encoder_layers(); ++l) {
        const std::string h = "encoder.layers." + std::to_string(l) + ".", ours = "encoder." + layer(l) + ".";
        torch_attention(cv, ours + "self_attn", h + "self_attn");
        cv.norm(ours + "self_attn_norm", h + "norm1");
        cv.linear(ours + "ff.linear1", h + "linear1", c.bias);
        cv.linear(ours + "ff.linear2", h + "linear2", c.bias);
        cv.norm(ours + "ff_norm", h + "norm2");
    }
    if (c.final_norm) cv.norm("encoder.norm", "encoder.norm");
    for (int64_t l = 0; l < c.n_layers; ++l) {
        const std::string h = "decoder.layers." + std::to_string(l) + ".", ours = "decoder." + layer(l) + ".";
        torch_attention(cv, ours + "self_attn", h + "self_attn");
        cv.norm(ours + "self_attn_norm", h + "norm1");
        torch_attention(cv, ours + "cross_attn", h + "multihead_attn");
        cv.norm(ours + "cross_attn_norm", h + "norm2");
        cv.linear(ours + "ff.linear1", h + "linear1", c.bias);
        cv.linear(ours + "ff.linear2", h + "linear2", c.bias);
        cv.norm(ours + "ff_norm", h + "norm3");
    }
    if (c.final_norm) cv.norm("decoder.norm", "decoder.norm");
    if (c.head == HeadType::seq2seq) lm_head(cv, "generator.weight");
}

}  // namespace

std::map<std::string, Tensor> convert_checkpoint(const TransformerConfig& config, CheckpointFormat format,
                                                 const std::map<std::string, Tensor>& source,
                                                 std::vector<std::string>* unused) {
    // A copy of the handles (not of the data): the caller's dict keeps every tensor.
    return convert_checkpoint(config, format, std::map<std::string, Tensor>(source), unused);
}

std::map<std::string, Tensor> convert_checkpoint(const TransformerConfig& config, CheckpointFormat format,
                                                 std::map<std::string, Tensor>&& source,
                                                 std::vector<std::string>* unused) {
    config.validate();
    const ModelShape expected = format == CheckpointFormat::hf_bert             ? ModelShape::encoder
                                : format == CheckpointFormat::torch_transformer ? ModelShape::encoder_decoder
                                                                                : ModelShape::decoder;
    ATTEND_CHECK(config.shape == expected, name_of(format), " checkpoints hold ", name_of(expected),
                 " models; model '", config.name, "' is ", name_of(config.shape));
    ATTEND_CHECK(format != CheckpointFormat::hf_gpt2 || (config.bias && config.positions == PositionType::learned &&
                                                         !is_gated(config.activation)),
                 "hf_gpt2 checkpoints have biases, learned positions and a two-linear MLP; model '", config.name,
                 "' does not");
    ATTEND_CHECK(format != CheckpointFormat::hf_bert ||
                     (config.positions == PositionType::learned && !is_gated(config.activation)),
                 "hf_bert checkpoints have learned positions and a two-linear MLP; model '", config.name, "' does not");
    ATTEND_CHECK(format != CheckpointFormat::torch_transformer || !is_gated(config.activation),
                 "nn.Transformer layers have a two-linear feed-forward; model '", config.name, "' has ",
                 name_of(config.activation));

    NoGradGuard no_grad;
    const char* body = format == CheckpointFormat::hf_gpt2    ? "transformer."
                       : format == CheckpointFormat::hf_bert  ? "bert."
                       : format == CheckpointFormat::hf_llama || format == CheckpointFormat::hf_phi3 ||
                               format == CheckpointFormat::hf_gemma
                           ? "model."
                           : "transformer.";
    Converter cv(config, source, body);
    switch (format) {
        case CheckpointFormat::hf_gpt2: convert_gpt2(cv); break;
        case CheckpointFormat::hf_bert: convert_bert(cv); break;
        case CheckpointFormat::hf_llama:
        case CheckpointFormat::hf_phi3:
        case CheckpointFormat::hf_gemma: convert_llama(cv, format); break;
        case CheckpointFormat::torch_transformer: convert_torch_transformer(cv); break;
    }
    if (unused) *unused = cv.unused();
    return std::move(cv.out);
}

void load_checkpoint(Transformer& model, CheckpointFormat format, const std::map<std::string, Tensor>& source,
                     bool strict) {
    std::vector<std::string> unused;
    const std::map<std::string, Tensor> ours = convert_checkpoint(model.config(), format, source, &unused);
    ATTEND_CHECK(!strict || unused.empty(), "the ", name_of(format), " checkpoint has ", unused.size(),
                 " tensor(s) model '", model.config().name, "' does not use, the first: ",
                 unused.empty() ? "" : unused.front());
    load_parameters(model.parameters(), ours, "", true);
}

}  // namespace attend
