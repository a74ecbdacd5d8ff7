// io/model_loader.cpp — from a path to a Transformer: which format it is, Hugging Face
// folders and files, our own checkpoints, and save_model (io/model_loader.hpp).
#include "attend/io/model_loader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/io/config_json.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/io/tokenizer_files.hpp"
#include "attend/models/config.hpp"
#include "attend/io/hf_names.hpp"
#include "attend/read_file.hpp"
#include "core/atomic_file.hpp"
#include "io/json_fields.hpp"
#include "io/loader_internal.hpp"
#include "io/mapped_file.hpp"

namespace attend {

namespace fs = std::filesystem;

namespace {


constexpr const char* kConfigKey = "attend_config";  // our config, in the safetensors metadata
constexpr const char* kTrainingCheckpointFile = "checkpoint.safetensors";  // a training run's (train/trainer.hpp)
// An int8 matrix's scales are the F32 tensor <parameter>:scale. Parameter names are dotted
// identifiers ([a-z0-9_.]), so no parameter can ever be named like a scale.
constexpr const char* kInt8ScaleSuffix = ":scale";

// How our checkpoints keep low-precision matrices: BF16 product matrices stay bf16 (adopted
// from the mapping), I8 ones pair with their scales. Anything else widens, as before.
LowPrecisionReading our_low_precision() {
    // (The reader offers only 2-D tensors to the filter: the name decides.)
    return {.bf16 = [](const std::string& name) { return Transformer::converts_to_low_precision(name, {1, 1}); },
            .int8_scale_suffix = kInt8ScaleSuffix};
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string read_text(const std::string& path) { return read_file(path, "JSON file attend reads", kMaxJsonBytes); }

// The first `n` bytes of a file (fewer when it is shorter).
std::string head_bytes(const std::string& path, size_t n) {
    std::ifstream in(path, std::ios::binary);
    if (!in) bad_file(path, std::string("cannot open: ") + std::strerror(errno));
    std::string bytes(n, '\0');
    in.read(bytes.data(), std::streamsize(n));
    bytes.resize(size_t(in.gcount()));
    return bytes;
}

// A safetensors file starts with its header length and then '{'.
bool looks_like_safetensors(const std::string& path) {
    const std::string b = head_bytes(path, 9);
    if (b.size() < 9 || b[8] != '{') return false;
    uint64_t n = 0;
    std::memcpy(&n, b.data(), 8);
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    return !ec && n <= size - 8;
}

// torch.save writes a zip (PK\3\4) or, before 1.6, a bare pickle (\x80 protocol byte).
bool looks_like_pickle(const std::string& path) {
    const std::string b = head_bytes(path, 4);
    return (b.size() >= 4 && b.compare(0, 4, "PK\x03\x04") == 0) || (!b.empty() && uint8_t(b[0]) == 0x80);
}

[[noreturn]] void pickle_out_of_scope(const std::string& path) {
    bad_file(path, "PyTorch pickle checkpoints (pytorch_model.bin) are out of scope: attend reads safetensors — "
              "convert with safetensors' save_file (or save_pretrained(..., safe_serialization=True))");
}

// Only the header of a safetensors file, for the metadata: nothing is made.
std::map<std::string, std::string> safetensors_metadata(const std::string& path) {
    return read_safetensors(path, [](const std::string&) { return false; }).metadata;
}

bool has_attend_config(const std::string& safetensors_path) {
    return safetensors_metadata(safetensors_path).count(kConfigKey) > 0;
}

bool config_is_ours(const std::string& config_path) {
    const nlohmann::json j = nlohmann::json::parse(read_text(config_path), nullptr, false);
    return j.is_object() && j.contains("model_type") && j["model_type"] == "attend";
}

// Buffers a Hugging Face file may hold that are no parameters (they may be I64 too).
bool is_hf_buffer(const std::string& name) {
    return ends_with(name, "embeddings.position_ids") || ends_with(name, ".attn.bias") ||
           ends_with(name, ".attn.masked_bias") || ends_with(name, "rotary_emb.inv_freq");
}

// Source tensors a model of this head legitimately leaves unused: BERT's pooler (when the
// head is not the classifier, which uses it) and BertForPreTraining's next-sentence head.
bool may_go_unused(const std::string& name, const TransformerConfig& c) {
    const bool pooler = name.rfind("bert.pooler.", 0) == 0 || name.rfind("pooler.", 0) == 0;
    return (pooler && c.head != HeadType::classifier) || name.rfind("cls.seq_relationship.", 0) == 0 ||
           (c.head != HeadType::lm && name == "lm_head.weight") || (c.head != HeadType::mlm && name.rfind("cls.", 0) == 0);
}

// model.safetensors, or the shards model.safetensors.index.json lists.
// A bf16 checkpoint stays bf16: every BF16 matrix of a Hugging Face file is read as a bf16
// low_precision_tensor (its names are theirs; load_hf widens again those that become no
// product matrix of ours, and hf_names widens and re-rounds the ones it re-lays out).
const LowPrecisionReading kHfLowPrecision{.bf16 = [](const std::string&) { return true; }, .int8_scale_suffix = {}};

std::map<std::string, Tensor> read_hf_weights(const std::string& dir) {
    const fs::path folder(dir);
    const TensorFilter wanted = [](const std::string& name) { return !is_hf_buffer(name); };
    if (fs::exists(folder / "model.safetensors"))
        return read_safetensors((folder / "model.safetensors").string(), wanted, kHfLowPrecision).tensors;
    const fs::path index = folder / "model.safetensors.index.json";
    if (fs::exists(index)) {
        const std::set<std::string> shards = parse_safetensors_index(read_text(index.string()), index.string());
        std::map<std::string, Tensor> all;
        for (const auto& shard : shards) {
            const std::string path = (folder / shard).string();
            for (auto& [name, t] : read_safetensors(path, wanted, kHfLowPrecision).tensors)
                if (!all.emplace(name, t).second) bad_file(path, "tensor '" + name + "' is also in another shard");
        }
        return all;
    }
    for (const char* other : {"pytorch_model.bin", "pytorch_model.bin.index.json"})
        if (fs::exists(folder / other)) pickle_out_of_scope((folder / other).string());
    for (const char* other : {"tf_model.h5", "flax_model.msgpack"})
        if (fs::exists(folder / other))
            bad_file((folder / other).string(), "TensorFlow/Flax weights are out of scope: attend reads model.safetensors");
    bad_file(dir, "no model.safetensors (nor model.safetensors.index.json) in the folder");
}

uint64_t values_in(const std::map<std::string, Tensor>& tensors) {
    uint64_t n = 0;
    for (const auto& [name, t] : tensors) n += uint64_t(t.numel());
    return n;
}

LoadedModel load_hf(const std::string& path, const std::string& config_path, std::map<std::string, Tensor> source,
                    ModelFormat format) {
    const HfConfig hf = parse_hf_config(read_text(config_path), config_path);
    check_config_fits_file(hf.config, values_in(source), path);
    std::vector<std::string> unused;
    std::map<std::string, Tensor> ours;
    try {
        ours = convert_checkpoint(hf.config, hf.format, std::move(source), &unused);  // re-laid-out sources go as they are copied
    } catch (const Error& e) {
        bad_file(path, e.what());
    }
    // A bf16 table that is no product matrix of ours (a position table) widens to fp32
    // (exactly): other ops than linear/embedding read it.
    for (auto& [name, t] : ours)
        if (t.low_precision() && !Transformer::converts_to_low_precision(name, t.shape()))
            t = t.low_precision()->dequantize();
    for (const auto& name : unused)
        if (!may_go_unused(name, hf.config))
            bad_file(path, "tensor '" + name + "' matches no parameter of the " + name_of(hf.config.head) + " model " +
                          config_path + " describes");
    LoadedModel loaded{.model = Transformer(hf.config, ParameterInit::uninitialised()), .config = hf.config, .format = format, .path = path, .tokenizer_path = {}};
    adopt_parameters(loaded.model, ours, path);
    loaded.bos_id = hf.bos_id;
    loaded.eos_id = hf.eos_id;
    loaded.pad_id = hf.pad_id;
    return loaded;
}

// A special id in the metadata: absent (-1), or a decimal integer in [0, vocab_size).
int64_t metadata_id(const std::map<std::string, std::string>& metadata, const std::string& key,
                    const std::string& path, int64_t vocab_size) {
    auto it = metadata.find(key);
    if (it == metadata.end()) return -1;
    const std::string& text = it->second;
    int64_t v = 0;
    bool ok = !text.empty() && text.size() <= 18;  // 18 digits cannot overflow an int64
    for (char ch : text) ok = ok && ch >= '0' && ch <= '9';
    if (ok) v = std::stoll(text);
    if (!ok || v >= vocab_size)
        bad_file(path, "field \"__metadata__." + key + "\": expected an integer in [0, " + std::to_string(vocab_size) +
                      ") (the model's vocabulary), got \"" + text.substr(0, 40) + "\"");
    return v;
}

LoadedModel load_ours(const std::string& path, const std::string& file) {
    // A training checkpoint (train/checkpoint.hpp) holds the model under "model." beside the
    // optimizer's "optim." state: the model is what we load, and the state is never read
    // (its header says which it is first).
    const std::map<std::string, std::string> metadata = safetensors_metadata(file);
    const auto format = metadata.find("format");
    const bool checkpoint = format != metadata.end() && format->second == "attend-checkpoint-1";
    TensorFilter wanted;
    if (checkpoint) wanted = [](const std::string& name) { return name.rfind(kTrainingCheckpointPrefix, 0) == 0; };
    SafetensorsContents contents = read_safetensors(file, wanted, our_low_precision());
    if (checkpoint) {
        std::map<std::string, Tensor> model;
        for (auto& [name, t] : contents.tensors)
            if (name.rfind(kTrainingCheckpointPrefix, 0) == 0) model[name.substr(std::strlen(kTrainingCheckpointPrefix))] = t;
        contents.tensors = std::move(model);
    }
    TransformerConfig config;
    auto it = contents.metadata.find(kConfigKey);
    const fs::path beside = fs::path(file).parent_path() / "config.json";
    if (it != contents.metadata.end()) config = config_from_json(it->second, file + " (metadata attend_config)");
    else if (fs::exists(beside)) config = config_from_json(read_text(beside.string()), beside.string());
    else bad_file(file, "has no attend_config metadata and no config.json beside it");
    check_config_fits_file(config, values_in(contents.tensors), file);
    LoadedModel loaded{.model = Transformer(config, ParameterInit::uninitialised()), .config = config, .format = ModelFormat::attend_checkpoint, .path = path, .tokenizer_path = {}};
    adopt_parameters(loaded.model, contents.tensors, file);
    loaded.bos_id = metadata_id(contents.metadata, "bos_id", file, config.vocab_size);
    loaded.eos_id = metadata_id(contents.metadata, "eos_id", file, config.vocab_size);
    loaded.pad_id = metadata_id(contents.metadata, "pad_id", file, config.vocab_size);
    return loaded;
}

}  // namespace

const char* name_of(ModelFormat f) {
    switch (f) {
        case ModelFormat::hf_folder: return "hf_folder";
        case ModelFormat::hf_safetensors: return "hf_safetensors";
        case ModelFormat::attend_checkpoint: return "attend_checkpoint";
        case ModelFormat::llama2c: return "llama2c";
        case ModelFormat::gguf: return "gguf";
    }
    return "?";
}

void adopt_parameters(Transformer& model, const std::map<std::string, Tensor>& source, const std::string& path) {
    const NamedParameters params = model.parameters();
    const std::string who = "model '" + model.config().name + "'";
    std::set<std::string> taken;
    for (const auto& [name, p] : params) {
        auto it = source.find(name);
        if (it == source.end()) bad_file(path, "no tensor for parameter " + name + " " + to_string(p->shape()) + " of " + who);
        if (it->second.shape() != p->shape())
            bad_file(path, "tensor " + name + " has shape " + to_string(it->second.shape()) + " but " + who + " expects " +
                          to_string(p->shape()));
        taken.insert(name);
    }
    for (const auto& [name, t] : source)
        if (!taken.count(name))
            bad_file(path, "tensor '" + name + "' " + to_string(t.shape()) + " matches no parameter of " + who);
    // Everything checked: now swap the handles (a view of the mapping stays one, and so does
    // a linear weight linear() reads in place as its transpose: GPT-2's Conv1D).
    NoGradGuard no_grad;
    for (const auto& [name, p] : params) {
        const Tensor& t = source.at(name);
        *p = t.is_contiguous() || is_input_major(t) ? t.detach() : t.contiguous().detach();
        p->requires_grad_(!t.low_precision());  // a bf16 / int8 matrix is for inference only
    }
}

ModelFormat detect_model_format(const std::string& path) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (ec || !fs::exists(status)) bad_file(path, "no such file or folder");
    if (fs::is_directory(status)) {
        const fs::path dir(path);
        const fs::path config = dir / "config.json", weights = dir / "model.safetensors";
        if (fs::exists(config)) return config_is_ours(config.string()) ? ModelFormat::attend_checkpoint : ModelFormat::hf_folder;
        if (fs::exists(weights) && has_attend_config(weights.string())) return ModelFormat::attend_checkpoint;
        // A training run's folder before the run has finished: its checkpoint is the model.
        if (const fs::path training = dir / kTrainingCheckpointFile; fs::exists(training) && has_attend_config(training.string()))
            return ModelFormat::attend_checkpoint;
        if (fs::exists(dir / "pytorch_model.bin")) pickle_out_of_scope((dir / "pytorch_model.bin").string());
        bad_file(path, "folder has no config.json (a Hugging Face folder needs config.json + model.safetensors; "
                  "ours, model.safetensors with attend_config metadata)");
    }
    if (!fs::is_regular_file(status)) bad_file(path, "not a regular file or folder");
    if (head_bytes(path, 4) == "GGUF") return ModelFormat::gguf;
    if (looks_like_safetensors(path)) {
        if (has_attend_config(path)) return ModelFormat::attend_checkpoint;
        const fs::path config = fs::path(path).parent_path() / "config.json";
        if (fs::exists(config)) return ModelFormat::hf_safetensors;
        bad_file(path, "safetensors file with no attend_config metadata and no config.json beside it");
    }
    if (ends_with(path, ".safetensors")) {
        // Named like one but not shaped like one: let the validating reader say what is wrong.
        read_safetensors(path, [](const std::string&) { return false; });
        bad_file(path, "not a safetensors file");
    }
    if (looks_like_pickle(path)) pickle_out_of_scope(path);
    if (ends_with(path, ".bin")) return ModelFormat::llama2c;
    if (ends_with(path, ".gguf")) bad_file(path, "not a GGUF file (its first bytes are not \"GGUF\")");
    bad_file(path, "unknown model format (expected a Hugging Face folder, a .safetensors file, a GGUF file, a llama2.c "
              ".bin or an attend checkpoint)");
}

LoadedModel load_model(const std::string& path, const LoadOptions& options) {
    const ResidentModelFiles reading(!options.mmap);  // every reader below opens its file accordingly
    const ModelFormat format = detect_model_format(path);
    LoadedModel loaded = [&]() {
        switch (format) {
            case ModelFormat::llama2c: return load_llama2c(path);
            case ModelFormat::gguf: return load_gguf(path);
            case ModelFormat::hf_folder:
                return load_hf(path, (fs::path(path) / "config.json").string(), read_hf_weights(path), format);
            case ModelFormat::hf_safetensors: {
                const TensorFilter wanted = [](const std::string& name) { return !is_hf_buffer(name); };
                return load_hf(path, (fs::path(path).parent_path() / "config.json").string(),
                               read_safetensors(path, wanted, kHfLowPrecision).tensors, format);
            }
            case ModelFormat::attend_checkpoint: {
                std::string file = path;
                if (fs::is_directory(path)) {
                    // The trained model, or (a run not finished yet) its latest training checkpoint.
                    file = (fs::path(path) / "model.safetensors").string();
                    if (const fs::path training = fs::path(path) / kTrainingCheckpointFile; !fs::exists(file) && fs::exists(training))
                        file = training.string();
                }
                if (!fs::exists(file))
                    bad_file(path, std::string("attend checkpoint folder has no model.safetensors (nor a training ") +
                                  kTrainingCheckpointFile + ")");
                return load_ours(path, file);
            }
        }
        bad_file(path, "unhandled model format");
    }();
    // A GGUF file carries its tokenizer (load_gguf named the file itself); others look beside.
    if (loaded.tokenizer_path.empty()) loaded.tokenizer_path = find_tokenizer(path, loaded.config.vocab_size).value_or("");
    return loaded;
}

ModelRecord model_record(const Transformer& model, const std::map<std::string, std::string>& metadata,
                         const std::string& prefix) {
    ATTEND_CHECK(!metadata.count(kConfigKey), "metadata key ", kConfigKey, " is reserved for the config");
    // collect_parameters is not const (it hands out pointers for optimizers); we only read.
    const NamedParameters params = const_cast<Transformer&>(model).parameters();
    ModelRecord record{{}, metadata};
    for (const auto& [name, p] : params) {
        record.tensors[prefix + name] = p->detach();  // a bf16 / int8 matrix is written as BF16 / I8
        if (const LowPrecisionMatrix* m = p->low_precision(); m && m->type() == WeightType::int8)
            record.tensors[prefix + name + kInt8ScaleSuffix] = Tensor::from_vector(
                {m->rows(), m->blocks_per_row()},
                std::vector<float>(m->scales(), m->scales() + m->rows() * m->blocks_per_row()));
    }
    record.metadata[kConfigKey] = config_to_json(model.config(), -1);
    return record;
}

void save_model(const std::string& path, const Transformer& model, const std::map<std::string, std::string>& metadata) {
    if (metadata.count(kConfigKey)) bad_file(path, std::string("metadata key ") + kConfigKey + " is reserved for the config");
    const ModelRecord record = model_record(model, metadata);
    if (ends_with(path, ".safetensors")) {
        save_safetensors(path, record.tensors, record.metadata);
        return;
    }
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec) bad_file(path, "cannot create the folder: " + ec.message());
    save_safetensors((fs::path(path) / "model.safetensors").string(), record.tensors, record.metadata);
    write_text_atomically((fs::path(path) / "config.json").string(), config_to_json(model.config()) + "\n");
}

}  // namespace attend
