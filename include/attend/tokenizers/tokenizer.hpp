// tokenizers/tokenizer.hpp — text ↔ token ids, exactly as the model's original tokenizer does it.
//
// Four kinds behind one interface, each held to what Hugging Face's tokenizers produce from the
// same files:
//   "gpt2-bpe"    GPT-2 byte-level BPE     vocab.json + merges.txt, tokenizer.json (model BPE,
//                                           pre_tokenizer ByteLevel), encoder.json + vocab.bpe
//   "wordpiece"   BERT WordPiece            vocab.txt (+ tokenizer_config.json beside it),
//                                           tokenizer.json (model WordPiece)
//   "llama2c-bpe" SentencePiece BPE          llama2.c's tokenizer.bin (Llama-2's 32k vocabulary,
//                 with byte fallback        stories260K's tok512.bin, ...)
//   "char"        one token per character   our own JSON file (see char_level.hpp)
//   "tokenizer.json"  the general pipeline   any other tokenizer.json: normalizers, regex Split and
//                                           other pre-tokenizers, BPE (byte_fallback, ...),
//                                           WordPiece, Unigram, decoders (src/tokenizers/pipeline.hpp)
//   "gguf-*"      a GGUF file's vocabulary   tokenizer.ggml.* metadata (gguf_vocab.hpp)
//
//   auto tok = attend::load_tokenizer("gpt2_folder");     // a file or a folder holding one
//   std::vector<int64_t> ids = tok->encode("Hello world");  // {15496, 995}
//   std::string text = tok->decode(ids);                    // "Hello world"
//
// Every problem with a file is an attend::Error whose one-line message starts with the path.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attend/io/tokenizer_vocabulary.hpp"
#include "attend/tokenizers/utf8_stream.hpp"

namespace attend {

// What encode does with special tokens — written in the text, and around it:
//   as_text  written ones are ordinary characters: "<|endoftext|>" or "[MASK]" in the text is
//            only text (safe for untrusted input, like tiktoken's default); nothing is added
//   parse    written ones become their ids; nothing is added. For text that already holds every
//            special token it needs: a rendered chat template writes its own BOS ("<s>",
//            "<|begin_of_text|>", "<bos>"), and transformers' apply_chat_template tokenizes it
//            with add_special_tokens=False, which is this
//   add      parse, and the model's own special tokens added as Hugging Face's
//            add_special_tokens=True does (Llama: BOS first; BERT: [CLS] … [SEP]; GPT-2: nothing)
enum class SpecialTokenMode { as_text, parse, add };

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // Text → ids (SpecialTokenMode above).
    virtual std::vector<int64_t> encode(std::string_view text, SpecialTokenMode specials) const = 0;
    // add_special: SpecialTokenMode::add; without it, as_text.
    std::vector<int64_t> encode(std::string_view text, bool add_special = false) const {
        return encode(text, add_special ? SpecialTokenMode::add : SpecialTokenMode::as_text);
    }

    // Ids → text. Special tokens appear as their names ("<|endoftext|>", "[CLS]", "<s>") unless
    // skip_special. Byte-level tokens may end inside a UTF-8 character; the bytes are returned
    // as they are (DecodeStream below holds such a tail back while streaming).
    virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const = 0;

    // A printable label for one token (attention heatmaps, --verbose listings): the token's text
    // as it would read in the output, with a partial UTF-8 sequence written as <0xE2>.
    // WordPiece continuations keep their "##".
    virtual std::string token_text(int64_t id) const = 0;

    // The id of a token given by its text (as token_text writes it), if the vocabulary has it.
    virtual std::optional<int64_t> token_id(std::string_view token) const = 0;

    // Ids run 0 .. vocab_size() - 1.
    virtual int64_t vocab_size() const = 0;

    virtual std::optional<int64_t> bos_id() const { return std::nullopt; }
    virtual std::optional<int64_t> eos_id() const { return std::nullopt; }
    virtual std::optional<int64_t> pad_id() const { return std::nullopt; }
    virtual std::optional<int64_t> unk_id() const { return std::nullopt; }

    // The vocabulary in the form above; nothing for kinds that have no GGUF form ("char").
    virtual std::optional<TokenizerVocabulary> vocabulary() const { return std::nullopt; }

    // "gpt2-bpe", "wordpiece", "llama2c-bpe" or "char".
    virtual std::string_view kind() const = 0;
    // The file(s) it was read from, for messages ("" when built in memory).
    const std::string& source() const { return source_; }

protected:
    std::string source_;
};

// Reads a tokenizer from a file or a folder. A folder is searched in the order of
// io/tokenizer_files.hpp (find_tokenizer: Hugging Face's files, then llama2.c's). A file is recognised by its name and content; vocab.json/encoder.json need their
// merges file (merges.txt / vocab.bpe) beside them.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// Copies the files of the tokenizer at `path` (what load_tokenizer reads, with its merges file
// or tokenizer_config.json) into `folder` under the names find_tokenizer (io/tokenizer_files.hpp) looks for
// (tokenizer.json, vocab.json + merges.txt, vocab.txt, tokenizer.bin), so a model trained with
// it carries its tokenizer. Overwrites; errors name the file.
void copy_tokenizer_files(const std::string& path, const std::string& folder);

// From bytes in memory (what the loaders call after reading the files; the fuzzer's entry
// points). origin names the source in error messages.
namespace tokenizers {
std::unique_ptr<Tokenizer> parse_gpt2(std::string_view vocab_json, std::string_view merges_txt,
                                      const std::string& vocab_origin, const std::string& merges_origin);
std::unique_ptr<Tokenizer> parse_hf_tokenizer_json(std::string_view tokenizer_json, const std::string& origin);

struct WordPieceOptions {
    bool lowercase = true;               // BertTokenizer's do_lower_case
    std::optional<bool> strip_accents;   // unset: follows lowercase, as in Hugging Face
    bool split_chinese_chars = true;     // tokenize_chinese_chars
    bool clean_text = true;              // drop control characters, whitespace → ' '
    int max_input_chars_per_word = 100;  // longer words become [UNK]
};
std::unique_ptr<Tokenizer> parse_wordpiece_vocab(std::string_view vocab_txt, const WordPieceOptions& options,
                                                 const std::string& origin);
std::unique_ptr<Tokenizer> parse_llama2c(std::string_view tokenizer_bin, const std::string& origin);
}  // namespace tokenizers

// Streaming decode for generation: push ids as they are sampled, print what comes back. Only
// whole, valid UTF-8 characters are returned, so a character split over byte-level tokens (an
// emoji is often 2–4 GPT-2 or Llama tokens) prints once it is complete, and bytes that can never
// make a character print as U+FFFD (as Hugging Face's decode, errors="replace"); finish() returns
// what is held. It decodes the whole sequence at each push (cheap at generation lengths), so the
// pieces add up to utf8_sanitize(decode(ids)) exactly. WordPiece's decoder rewrites the space
// before a token when the next one arrives ("don ' t" → "don't"), and tokenizer.json decoders
// may too, so for those the newest token's text is held back one step.
class DecodeStream {
public:
    explicit DecodeStream(const Tokenizer& tokenizer, bool skip_special = true)
        : tokenizer_(tokenizer), skip_special_(skip_special) {}
    std::string push(int64_t id);
    std::string finish();
    const std::vector<int64_t>& ids() const { return ids_; }

private:
    const Tokenizer& tokenizer_;
    bool skip_special_;
    std::vector<int64_t> ids_;
    size_t emitted_ = 0;      // bytes of decode(ids_) already passed to utf8_
    Utf8StreamDecoder utf8_;  // holds an unfinished character back
};

// The GGUF writer's tokenizer part (io/model_loader.hpp GgufWriteOptions): `tok`'s vocabulary
// and its special ids, each id only where the options have none yet (the model's own files
// win). An Error naming the tokenizer when it has no GGUF form (tokenizers/gguf_vocab.cpp).
struct GgufWriteOptions;
void add_gguf_tokenizer(GgufWriteOptions& options, const Tokenizer& tok);

}  // namespace attend
