// io/hf_names.hpp — other libraries' checkpoints in our names and layouts.
//
// A Hugging Face (or torch) state dict names and shapes the same matrices differently:
//
//   GPT-2   transformer.h.N.attn.c_attn.weight (E, 3E)   Conv1D: (in, out), q|k|v side by side
//           -> layers.N.self_attn.{q,k,v}_proj.weight (E, E) each, transposed
//           attn.c_proj, mlp.c_fc, mlp.c_proj: Conv1D, transposed; ln_1, ln_2, ln_f, wte, wpe
//   BERT    bert.embeddings.{word,position,token_type}_embeddings, embeddings.LayerNorm,
//           encoder.layer.N.attention.self.{query,key,value}, attention.output.{dense,LayerNorm},
//           intermediate.dense, output.{dense,LayerNorm}, pooler.dense, classifier,
//           cls.predictions.{transform.dense, transform.LayerNorm, bias, decoder}
//           (old checkpoints spell LayerNorm's weight/bias gamma/beta: both are read)
//   Llama   model.embed_tokens, model.layers.N.self_attn.{q,k,v,o}_proj,
//           mlp.{gate,up,down}_proj, input_layernorm, post_attention_layernorm, model.norm,
//           lm_head (HF's q/k rows are already in the rotate_half order: config.rope_layout
//           must be rotate_half). Mistral and Qwen2 (q/k/v biases: config.qkv_bias) too.
//   Phi-3   Llama's names, but self_attn.qkv_proj (H·Dh + 2·Hkv·Dh, E) rows q|k|v and
//           mlp.gate_up_proj (2·d_ff, E) rows gate|up, split by rows (hf_phi3)
//   Gemma   Llama's names; every RMSNorm weight w is stored for a (1 + w) scale, so ours
//           is 1 + w (hf_gemma)
//   torch   an nn.Transformer under "transformer." (in_proj_weight rows q|k|v; norm1/2/3;
//           linear1/2; multihead_attn; encoder.norm, decoder.norm), the shared embedding
//           "embedding.weight" and the generator "generator.weight" (tests/reference/models.py)
//
// The outer prefix (transformer., bert., model.) is optional: GPT2Model's bare names load as
// well as GPT2LMHeadModel's. The conversion is linear (slices and transposes), so it maps a
// dict of gradients named like the parameters just as well — the parity tests use that.
//
// Implemented in src/io/hf_names.cpp.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "attend/models/config.hpp"
#include "attend/tensor.hpp"

namespace attend {

class Transformer;

enum class CheckpointFormat { hf_gpt2, hf_bert, hf_llama, hf_phi3, hf_gemma, torch_transformer };

// "hf_gpt2", ... and back (an unknown name is an Error listing the known ones).
const char* name_of(CheckpointFormat f);
CheckpointFormat checkpoint_format(const std::string& name);

// {our parameter name: tensor} for a model of `config`, built from `source` as `format` names
// and lays it out. A tensor the model needs and `source` lacks is an Error naming both names.
// `unused`, when given, receives the source names nothing took, except known buffers (GPT-2's
// attn.bias / attn.masked_bias, BERT's position_ids, rotary inv_freq) and a tied head's copy
// of the embedding.
std::map<std::string, Tensor> convert_checkpoint(const TransformerConfig& config, CheckpointFormat format,
                                                 const std::map<std::string, Tensor>& source,
                                                 std::vector<std::string>* unused = nullptr);
// The same, consuming `source`: a tensor re-laid out (GPT-2's Conv1D weights and packed
// c_attn, transposed) is dropped from it as soon as its copy is made, while the tensors used
// as they are (views) stay shared with the result. When `source` held the last handle — a
// loader's mapped file — the memory behind each re-laid-out tensor goes before the next one
// is read (io/model_loader.cpp), so the model is never resident twice.
std::map<std::string, Tensor> convert_checkpoint(const TransformerConfig& config, CheckpointFormat format,
                                                 std::map<std::string, Tensor>&& source,
                                                 std::vector<std::string>* unused = nullptr);

// convert_checkpoint, then load_parameters into `model`. Every parameter must be given; when
// `strict`, a source tensor nothing took is an Error too (loading BertForPreTraining's
// checkpoint into an MLM model, whose NSP head cls.seq_relationship we do not build, needs
// strict = false).
void load_checkpoint(Transformer& model, CheckpointFormat format, const std::map<std::string, Tensor>& source,
                     bool strict = true);

}  // namespace attend
