// python/src/tokenizer.cpp — attend.Tokenizer: text ↔ ids, the same ids `attend tokenize`
// prints. A Tokenizer from a loaded model shares the model's (keeps it alive).
#include <memory>
#include <string>
#include <vector>

#include "attend/tokenizers/tokenizer.hpp"
#include "bindings.hpp"
#include "tokenizer_handle.hpp"

namespace attend::python {

void register_tokenizer(py::module_& m) {
    py::class_<TokenizerHandle>(m, "Tokenizer", R"doc(
Text to token ids and back, exactly as the model's original tokenizer (Hugging Face's) does it.

Tokenizer(path) reads a tokenizer file or a folder holding one: tokenizer.json, vocab.json +
merges.txt, encoder.json + vocab.bpe, vocab.txt (BERT), tokenizer.bin / tok*.bin (llama2.c).

>>> tok = attend.Tokenizer("stories260K/tok512.bin")
>>> ids = tok.encode("Once upon a time")
>>> tok.decode(ids)
'Once upon a time'
)doc")
        .def(py::init([](const std::string& path) {
                 py::gil_scoped_release nogil;
                 std::shared_ptr<const Tokenizer> t = load_tokenizer(path);
                 return TokenizerHandle{t};
             }),
             py::arg("path"), "Reads the tokenizer at `path` (a file or a folder).")
        .def(
            "encode",
            [](const TokenizerHandle& t, const std::string& text, bool add_special_tokens) {
                py::gil_scoped_release nogil;
                return t.get().encode(text, add_special_tokens);
            },
            py::arg("text"), py::arg("add_special_tokens") = false,
            "Token ids of `text`. With add_special_tokens the model's special tokens are added as Hugging "
            "Face's add_special_tokens=True does (Llama: BOS first; BERT: [CLS] ... [SEP]).")
        .def(
            "encode_batch",
            [](const TokenizerHandle& t, const std::vector<std::string>& texts, bool add_special_tokens) {
                py::gil_scoped_release nogil;
                std::vector<std::vector<int64_t>> out;
                out.reserve(texts.size());
                for (const std::string& text : texts) out.push_back(t.get().encode(text, add_special_tokens));
                return out;
            },
            py::arg("texts"), py::arg("add_special_tokens") = false, "encode() of each text.")
        .def(
            "decode",
            [](const TokenizerHandle& t, const py::object& ids, bool skip_special_tokens) {
                const std::vector<int64_t> v = to_ids(ids);
                std::string text;
                {
                    py::gil_scoped_release nogil;
                    text = t.get().decode(v, skip_special_tokens);
                }
                // Byte-level tokens may end inside a character: undecodable bytes become U+FFFD.
                return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(text.data(), py::ssize_t(text.size()), "replace"));
            },
            py::arg("ids"), py::arg("skip_special_tokens") = false,
            "The text of `ids` (special tokens shown by name unless skip_special_tokens).")
        .def(
            "decode_batch",
            [](const TokenizerHandle& t, const py::iterable& batch, bool skip_special_tokens) {
                py::list out;
                for (py::handle ids : batch) {
                    const std::string text = t.get().decode(to_ids(ids), skip_special_tokens);
                    out.append(py::reinterpret_steal<py::str>(
                        PyUnicode_DecodeUTF8(text.data(), py::ssize_t(text.size()), "replace")));
                }
                return out;
            },
            py::arg("batch"), py::arg("skip_special_tokens") = false, "decode() of each list of ids.")
        .def(
            "tokens",
            [](const TokenizerHandle& t, const std::string& text, bool add_special_tokens) {
                py::gil_scoped_release nogil;
                std::vector<std::string> out;
                for (int64_t id : t.get().encode(text, add_special_tokens)) out.push_back(t.get().token_text(id));
                return out;
            },
            py::arg("text"), py::arg("add_special_tokens") = false,
            "The tokens of `text` as printable strings (what `attend tokenize --pieces` shows).")
        .def(
            "token_to_id",
            [](const TokenizerHandle& t, const std::string& token) { return t.get().token_id(token); },
            py::arg("token"), "The id of a token given by its text, or None.")
        .def(
            "id_to_token", [](const TokenizerHandle& t, int64_t id) { return t.get().token_text(id); }, py::arg("id"),
            "A printable label for one token.")
        .def_property_readonly("vocab_size", [](const TokenizerHandle& t) { return t.get().vocab_size(); })
        .def_property_readonly("kind", [](const TokenizerHandle& t) { return std::string(t.get().kind()); },
                               "\"gpt2-bpe\", \"wordpiece\", \"llama2c-bpe\" or \"char\".")
        .def_property_readonly("bos_id", [](const TokenizerHandle& t) { return t.get().bos_id(); })
        .def_property_readonly("eos_id", [](const TokenizerHandle& t) { return t.get().eos_id(); })
        .def_property_readonly("pad_id", [](const TokenizerHandle& t) { return t.get().pad_id(); })
        .def_property_readonly("source", [](const TokenizerHandle& t) { return t.get().source(); },
                               "The file(s) it was read from.")
        .def("__len__", [](const TokenizerHandle& t) { return t.get().vocab_size(); })
        .def("__repr__", [](const TokenizerHandle& t) {
            return "attend.Tokenizer(" + std::string(py::repr(py::str(t.get().source()))) + ", kind=" +
                   std::string(t.get().kind()) + ", vocab_size=" + std::to_string(t.get().vocab_size()) + ")";
        });
}

}  // namespace attend::python
