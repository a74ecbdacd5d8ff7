// tools/attend/convert.cpp — `attend convert --dtype bf16|int8 IN OUT`: any model attend loads,
// written back as attend's checkpoint with its matrices in low precision, so that loading it
// later maps half (bf16) or about 0.28× (int8) of the fp32 bytes and converts nothing.
// `attend convert --to gguf [--type f32|f16|bf16|q8_0|q4_0] IN OUT.gguf` writes a GGUF file for
// llama.cpp instead (io/model_loader.hpp save_gguf: llama, qwen2, phi3, gemma, gpt2, bert), with
// the tokenizer found beside IN (or in IN, when IN is a GGUF file) in its metadata.
//
//   load      io/model_loader.hpp load_model (HF folder, .safetensors, llama2.c .bin, ours)
//   convert   Transformer::convert_weights (the matrices linear/embedding read; norms, biases
//             and position tables stay fp32)
//   write     save_model (the one checkpoint writer: model.safetensors + config.json in a
//             folder, or a .safetensors file), with the special ids the source declared, and
//             the tokenizer found beside IN copied beside OUT (tokenizers/copy_tokenizer_files)
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/low_precision.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "commands.hpp"

namespace attend::cli {
namespace {

namespace fs = std::filesystem;

struct ConvertCliOptions {
    std::string in, out;
    std::string dtype = "bf16";
    std::string to = "attend";
    std::string type = "f32";
    bool verbose = false;
};

void run_convert_gguf(const ConvertCliOptions& o) {
    const LoadedModel loaded = load_model(o.in);
    GgufWriteOptions w;  // assigned, not designated: that form names every member or warns
    w.type = o.type;
    w.bos_id = loaded.bos_id, w.eos_id = loaded.eos_id, w.pad_id = loaded.pad_id;
    w.name = fs::path(o.in).filename().string();
    if (loaded.config.shape == ModelShape::encoder && loaded.config.head != HeadType::none) {
        w.encoder_only = true;  // llama.cpp's bert is an embedding model
        std::fprintf(stderr, "[attend] %s: its %s head is not written (llama.cpp's bert holds the encoder alone)\n",
                     o.in.c_str(), name_of(loaded.config.head));
    }
    std::unique_ptr<Tokenizer> tokenizer;
    if (!loaded.tokenizer_path.empty()) {
        tokenizer = load_tokenizer(loaded.tokenizer_path);
        if (tokenizer->vocabulary()) add_gguf_tokenizer(w, *tokenizer);
        else  // the model is still worth writing; llama.cpp just needs a tokenizer from elsewhere
            std::fprintf(stderr, "[attend] %s: the %s tokenizer has no GGUF form; %s is written without one\n",
                         loaded.tokenizer_path.c_str(), std::string(tokenizer->kind()).c_str(), o.out.c_str());
    }
    save_gguf(o.out, loaded.model, w);
    if (o.verbose)
        std::fprintf(stderr, "[attend] %s (%s) -> %s: GGUF, matrices %s%s%s\n", o.in.c_str(), name_of(loaded.format),
                     o.out.c_str(), o.type.c_str(), w.vocabulary ? ", tokenizer " : "",
                     w.vocabulary ? loaded.tokenizer_path.c_str() : "");
}

void run_convert(const ConvertCliOptions& o) {
    if (o.to == "gguf") return run_convert_gguf(o);
    LoadedModel loaded = load_model(o.in);
    const int64_t bytes_before = loaded.model.weight_bytes();
    int64_t converted = 0;
    try {
        converted = loaded.model.convert_weights(parse_weight_type(o.dtype));
    } catch (const Error& e) {  // e.g. int8 asked of a bf16 checkpoint: say which model
        throw Error(o.in + ": " + e.what());
    }

    std::map<std::string, std::string> metadata;  // load_ours reads these back
    for (const auto& [key, id] : {std::pair{"bos_id", loaded.bos_id}, {"eos_id", loaded.eos_id}, {"pad_id", loaded.pad_id}})
        if (id >= 0) metadata[key] = std::to_string(id);
    save_model(o.out, loaded.model, metadata);

    // The tokenizer goes where find_tokenizer (io/tokenizer_files.hpp) will look for it: in the folder, or beside the file.
    const bool is_file = o.out.size() >= 12 && o.out.compare(o.out.size() - 12, 12, ".safetensors") == 0;
    const std::string folder = is_file ? fs::path(o.out).parent_path().string() : o.out;
    if (loaded.format == ModelFormat::gguf && loaded.tokenizer_path == o.in)
        // Its tokenizer lives in the GGUF metadata, beside the weights: not copied (that would
        // copy the model), so it is named on the command line instead.
        std::fprintf(stderr, "[attend] %s: the tokenizer is in the GGUF file's metadata; run %s with --tokenizer %s\n",
                     o.in.c_str(), o.out.c_str(), o.in.c_str());
    else if (!loaded.tokenizer_path.empty())
        copy_tokenizer_files(loaded.tokenizer_path, folder.empty() ? "." : folder);

    if (o.verbose)
        std::fprintf(stderr, "[attend] %s (%s): %lld matrices converted to %s, weights %.2f MB -> %.2f MB%s%s\n",
                     o.in.c_str(), name_of(loaded.format), (long long)converted, o.dtype.c_str(), bytes_before / 1e6,
                     loaded.model.weight_bytes() / 1e6, loaded.tokenizer_path.empty() ? "" : ", tokenizer ",
                     loaded.tokenizer_path.c_str());
}

}  // namespace

void register_convert(CLI::App& app) {
    auto o = std::make_shared<ConvertCliOptions>();
    CLI::App* cmd = app.add_subcommand("convert", "Write a model as an attend checkpoint with bf16 or int8 weights, or as GGUF");
    cmd->footer(
        "\nIN is anything `attend generate` loads (Hugging Face folder, .safetensors, llama2.c .bin,\n"
        "attend checkpoint). OUT is a folder (model.safetensors + config.json + the tokenizer) or a\n"
        "file ending in .safetensors (the tokenizer is copied beside it). The matrices are stored as\n"
        "BF16, or as I8 with one F32 scale per 32 values of a row (tensor <name>:scale); norms,\n"
        "biases and position tables stay F32. f32 re-saves as it is. Loading OUT keeps the weights\n"
        "in that precision (inference only).\n\n"
        "With --to gguf, OUT is a GGUF file llama.cpp runs (architectures llama, qwen2, phi3, gemma,\n"
        "gpt2, bert): matrices as --type (f32, f16, bf16, q8_0, q4_0), norms and biases F32, and the\n"
        "tokenizer (GPT-2 BPE, SentencePiece, WordPiece) in its metadata.\n\n"
        "Example:\n"
        "  attend convert --dtype int8 stories260K/stories260K.bin stories-int8\n"
        "  attend convert --to gguf --type q8_0 stories260K/stories260K.bin stories.gguf\n"
        "  attend generate --model stories-int8 --prompt \"Once upon a time\" --temperature 0");
    cmd->add_option("IN", o->in, "Model to convert")->required();
    cmd->add_option("OUT", o->out, "Checkpoint to write: a folder, or a .safetensors file")->required();
    add_dtype_option(cmd, o->dtype);
    cmd->add_option("--to", o->to, "Output format: attend (a checkpoint) or gguf (llama.cpp's)")
        ->check(CLI::IsMember({"attend", "gguf"}))
        ->capture_default_str();
    cmd->add_option("--type", o->type, "With --to gguf: how matrices are stored (f32, f16, bf16, q8_0, q4_0)")
        ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0"}))
        ->capture_default_str();
    cmd->add_flag("-v,--verbose", o->verbose, "Print what was converted and the weights' size");
    cmd->callback([o, cmd] {
        if (o->to == "gguf" && cmd->count("--dtype"))
            throw CLI::ValidationError("--dtype", "is for attend checkpoints; with --to gguf use --type");
        if (o->to != "gguf" && cmd->count("--type"))
            throw CLI::ValidationError("--type", "is for --to gguf; attend checkpoints take --dtype");
        run_convert(*o);
    });
}

}  // namespace attend::cli
