// io/model_loader.hpp — one call from a path on disk to a ready Transformer.
//
// A user arrives with a model in one of five shapes, and `load_model` tells them apart:
//
//   Hugging Face folder   config.json + model.safetensors (or model.safetensors.index.json and
//                         its shards); model_type gpt2, bert, llama, mistral, qwen2, phi3 or
//                         gemma. config.json becomes a TransformerConfig; the tensors are
//                         renamed and re-laid out by
//                         io/hf_names.hpp (GPT-2's transposed Conv1D, packed c_attn, tied
//                         heads). pytorch_model.bin (pickle) is out of scope: an Error says so.
//   .safetensors file     ours: the TransformerConfig as JSON in __metadata__["attend_config"]
//                         and our parameter names; or a Hugging Face file with config.json
//                         beside it.
//   llama2.c .bin         the version-0 ("legacy") export of karpathy/llama2.c: 7 int32
//                         (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
//                         vocab_size < 0 means a separate classifier), then float32 arrays in
//                         run.c's memory_map_weights order. q/k rows pair up (2i, 2i+1) for RoPE,
//                         so the config says rope_layout = interleaved. The file size must
//                         equal what the header implies, to the byte.
//   GGUF file             llama.cpp's format (versions 2 and 3, recognised by its "GGUF" magic):
//                         general.architecture llama (mistral as llama), qwen2, phi3,
//                         gemma, gpt2 or bert, its <arch>.* sizes, llama.cpp's tensor
//                         names, F32/F16/BF16/Q8_0/Q4_0 tensors (BF16 matrices stay bf16,
//                         Q8_0/Q4_0 matrices become int8), and the tokenizer in its
//                         tokenizer.ggml.* metadata (tokenizer_path is the file itself).
//                         The mapping is src/io/gguf_model.cpp's.
//   our checkpoint folder model.safetensors with the attend_config metadata (what save_model
//                         writes when given a folder), config.json beside it for people to read.
//                         Parameters are F32 under our names, except matrices converted to low
//                         precision (Transformer::convert_weights; `attend convert`):
//                           bf16  the parameter as a BF16 tensor of its shape
//                           int8  the parameter as an I8 tensor (rows, cols) of quantised values,
//                                 and "<parameter>:scale", an F32 tensor (rows, ceil(cols / 32)):
//                                 value[r][c] = scale[r][c / 32] · q[r][c]. Parameter names are
//                                 dotted identifiers, so no parameter can be named like a scale.
//                         They load in that precision (BF16 adopted from the mapping, I8 and its
//                         scales too), for inference only; a scale missing, of another dtype or
//                         shape, or negative or not finite is an Error naming the file and tensor.
//                         (A Hugging Face file's BF16 matrices load as bf16 too; its position
//                         tables and 1-D tensors widen to f32.)
//                         A training checkpoint (train/checkpoint.hpp: "model." and "optim."
//                         tensors, format attend-checkpoint-1, written through model_record
//                         so it always carries attend_config) loads too: its "model." tensors
//                         are the model. A training run's folder (train/trainer.hpp) loads
//                         before the run has finished: without model.safetensors, its
//                         checkpoint.safetensors is the model.
//
// Every file is validated before use and every failure is an attend::Error naming the file
// and the problem. Loading costs little beyond the file itself:
//   - the model is built uninitialised (nn/init.hpp): no random draws, no parameter memory
//     written; the file's tensors then replace the parameter handles (adopt, not copy);
//   - tensors are mmapped (MAP_PRIVATE: copy-on-write, the file never changes, even when
//     training updates a parameter in place): F32 weights that need no re-layout — all of a
//     checkpoint of ours or a llama2.c file, all but GPT-2's Conv1D and c_attn matrices of a
//     Hugging Face folder — are read in place, never copied;
//   - a re-layout (GPT-2's transposes) is made once, into the parameter's own buffer, and
//     the mapped pages it was read from are released at once, so peak memory stays near
//     the weights' size.
//
// Implemented in src/io/model_loader.cpp (the dispatch, HF folders, our checkpoints),
// src/io/llama2c.cpp and src/io/hf_config.cpp.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "attend/io/tokenizer_vocabulary.hpp"
#include "attend/models/config.hpp"
#include "attend/models/transformer.hpp"

namespace attend {

enum class ModelFormat {
    hf_folder,          // config.json + model.safetensors
    hf_safetensors,     // a Hugging Face .safetensors file with config.json beside it
    attend_checkpoint,  // our safetensors (config in the metadata), as a file or in a folder
    llama2c,            // a llama2.c version-0 .bin
    gguf,               // a GGUF file (llama.cpp's format): llama/mistral, qwen2, phi3, gemma, gpt2, bert
};
const char* name_of(ModelFormat f);  // "hf_folder", ...

// What load_model returns: the model ready for inference (parameters are leaves with
// requires_grad, as a freshly built model's are), and what a caller needs around it.
struct LoadedModel {
    Transformer model;
    TransformerConfig config;  // == model.config(); config.name says where it came from
    ModelFormat format;
    std::string path;          // the path given to load_model
    // The tokenizer file found beside the model, or empty when there is none: find_tokenizer
    // (io/tokenizer_files.hpp) on the model's folder with the model's vocab_size.
    std::string tokenizer_path;
    // Special ids the model's files declare (config.json's bos/eos/pad_token_id; llama2.c's
    // fixed BOS = 1, EOS = 2; our checkpoint's metadata), -1 when not declared.
    int64_t bos_id = -1;
    int64_t eos_id = -1;
    int64_t pad_id = -1;
};

// How load_model holds the file that f32 (and bf16 / int8) weights are read from in place.
struct LoadOptions {
    // false (the default): the file is read into memory of the process's own, on 2 MiB huge
    // pages where the kernel gives them, by both threads; the weights are borrowed from it in
    // place. true: the file is mapped (mmap) and the weights are read from the page cache
    // through 4 KiB pages as the first pass touches them. Reading won both ways on GPT-2 small
    // (f32, 0.5 GB, file in the page cache, 2 cores): the first token 0.21–0.28 s after start
    // against 0.33–0.39 s at two threads (one: 0.26–0.71 against 0.42–0.53 — fresh memory's
    // first touch is slow on a VM), and decoding as fast or faster in every alternation, by up
    // to 1.5× — a token's walk over 0.5 GB of 4 KiB pages costs page walks and restarts the
    // prefetcher at every page (docs/performance.md, twenty-first round). Mapping is kept
    // for what it is good at: a model larger than the memory available (mapped anyway), or
    // one loaded only to read a few tensors. Either way the file is mapped first and only its
    // header is read until the header has been checked against the file; then only the
    // tensors the model takes are read (a training checkpoint's optimizer state never is) —
    // io/mapped_file.hpp's make_resident. Weights converted at load (--dtype bf16 / int8)
    // live in memory of their own either way.
    bool mmap = false;
};

// Loads any of the formats above (see the top of this file). Throws attend::Error naming the
// path and what is wrong: no such path, an unknown format, a missing config.json or weights
// file, an unknown model_type, a tensor missing or of the wrong shape, a truncated file.
LoadedModel load_model(const std::string& path, const LoadOptions& options = {});

// Which format `path` holds, from names and the first bytes alone (nothing loaded).
ModelFormat detect_model_format(const std::string& path);

// Writes our checkpoint: every parameter under our names (F32; bf16 / int8 matrices as above,
// with int8's scales) and, in the safetensors
// metadata, "attend_config" = config_to_json(model.config()) and `metadata` (keys must not
// be "attend_config"). A path ending in ".safetensors" is written as that file; any other
// path is a folder (created if needed) receiving model.safetensors and config.json (the same
// JSON, for people). Atomic per file: a crash leaves the old file or the new one, never half.
// load_model(path) then gives back bit-identical parameters.
void save_model(const std::string& path, const Transformer& model,
                const std::map<std::string, std::string>& metadata = {});

// Writes `model` as a GGUF file llama.cpp runs (atomically): general.architecture llama (a
// RoPE/RMSNorm/SwiGLU decoder; q/k rows stored in Meta's interleaved pair order, as llama.cpp's
// converter stores them), qwen2 (the same with q/k/v biases), phi3 (with longrope scaling:
// fused attn_qkv and ffn_up), gemma (GeGLU, embeddings × √d, norms stored as 1 + w), gpt2
// (learned positions, LayerNorm, GELU-tanh) or bert (a head-less BERT encoder; with
// encoder_only, a BERT's head is left out), with the <arch>.* keys and tensor names of
// llama.cpp (the mapping: src/io/gguf_model.cpp). Matrices are stored as
// `type` (f32, f16, bf16, q8_0, q4_0; a matrix whose rows are not whole blocks stays F32), norms,
// biases and position tables as F32. With a vocabulary, it goes into the tokenizer.ggml.* keys
// (add_gguf_tokenizer in attend/tokenizers/tokenizer.hpp fills it from a Tokenizer); the
// special ids given are written either way.
// A model no llama.cpp architecture computes is an Error naming the first difference.
struct GgufWriteOptions {
    std::string type = "f32";
    std::optional<TokenizerVocabulary> vocabulary;  // none: the file holds the model alone
    std::string vocabulary_source;                  // its tokenizer's file, for messages
    int64_t bos_id = -1, eos_id = -1, pad_id = -1, unk_id = -1;  // -1: none
    int64_t cls_id = -1, sep_id = -1, mask_id = -1;              // bert's, written for bert only
    std::string name;  // general.name (default: the config's name)
    bool encoder_only = false;  // an encoder with a head (BERT's MLM, classifier): write the encoder alone
};
void save_gguf(const std::string& path, const Transformer& model, const GgufWriteOptions& options = {});

// The one writer of our model format, for save_model and for files that hold a model beside
// other things (a training checkpoint, train/checkpoint.hpp, adds its optimizer state under
// "optim." and keeps the model under kTrainingCheckpointPrefix): every parameter under
// `prefix` + its name (bf16 / int8 matrices as above, int8's scales beside), and the metadata:
// "attend_config" = config_to_json(model.config()) plus `metadata` (keys must not be
// "attend_config"). load_model opens any file written from it.
struct ModelRecord {
    std::map<std::string, Tensor> tensors;
    std::map<std::string, std::string> metadata;
};
ModelRecord model_record(const Transformer& model, const std::map<std::string, std::string>& metadata = {},
                         const std::string& prefix = "");
inline constexpr const char* kTrainingCheckpointPrefix = "model.";

// ---- the pieces, for callers that need only one -------------------------------------------

// Hugging Face config.json -> TransformerConfig, for model_type gpt2, bert and llama (and
// "attend", our own config JSON). An unknown model_type, a missing required field or a
// feature we do not implement (rope_scaling, GPT-2's scale_attn_by_inverse_layer_idx, BERT as
// a causal decoder, ...) is an Error naming the file and the field. `architectures` picks the
// head (GPT2LMHeadModel -> lm, BertForMaskedLM/BertLMHeadModel -> mlm,
// BertForSequenceClassification -> classifier with len(id2label) classes, BertModel -> none).
TransformerConfig read_hf_config(const std::string& config_json_path);

// The same from the JSON text; `where` names the source in errors.
TransformerConfig hf_config_from_json(const std::string& json_text, const std::string& where);

// The 7-int32 header of a llama2.c version-0 checkpoint.
struct Llama2cHeader {
    static constexpr uint64_t kBytes = 7 * 4;  // what the weights follow
    int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
    bool shared_classifier() const { return vocab_size > 0; }
    // The exact file size these numbers imply (weights, the legacy RoPE tables run.c skips,
    // and a classifier when not shared).
    uint64_t expected_file_size() const;
};

// Reads and checks the header of `path` (every number positive but vocab_size's sign,
// dim divisible by n_heads, n_heads by n_kv_heads, an even head size, sizes that fit in
// memory) and the file size against it. Errors name the file, the field and its value.
Llama2cHeader read_llama2c_header(const std::string& path);
// The same checks on a whole file's bytes in memory (`path` names it in errors).
Llama2cHeader parse_llama2c_header(const void* bytes, size_t size, const std::string& path);

// The TransformerConfig of a llama2.c checkpoint: decoder, LM head (tied when shared),
// RMSNorm eps 1e-5, SwiGLU, RoPE θ = 10000 interleaved, no biases, max_positions = seq_len.
TransformerConfig llama2c_config(const Llama2cHeader& header);

}  // namespace attend
