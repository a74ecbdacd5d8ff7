// python/src/model.cpp — attend.load(path) → attend.Model: a model with its tokenizer, and
// what one does with it from Python (generate, stream, logits, encode, perplexity, viz).
//
// A Model holds a shared_ptr<const TextModel>: its tokenizer and any stream keep it alive. All
// C++ work runs with the GIL released, so threads generate at once; the token loop takes the
// GIL back for a moment each token to see a Ctrl-C.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/generate/embed.hpp"
#include "attend/generate/perplexity.hpp"
#include "attend/generate/text_model.hpp"
#include "attend/io/config_json.hpp"
#include "attend/low_precision.hpp"
#include "attend/viz/record.hpp"
#include "attend/viz/report.hpp"
#include "bindings.hpp"
#include "model_handle.hpp"
#include "text_generation.hpp"
#include "tokenizer_handle.hpp"

namespace attend::python {
namespace {

py::str utf8(const std::string& text) {  // bytes that are not UTF-8 (none expected) become U+FFFD
    return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(text.data(), py::ssize_t(text.size()), "replace"));
}

// generate(prompt: str | list[str], ...): the request, and whether one string was given.
std::pair<GenerationRequest, bool> request_of(const py::object& prompt, int64_t max_tokens, float temperature,
                                              int64_t top_k, float top_p, std::optional<uint64_t> seed,
                                              const py::object& stop, bool echo, const std::string& kv_cache) {
    GenerationRequest r;
    bool single = py::isinstance<py::str>(prompt);
    if (single) r.prompts.push_back(prompt.cast<std::string>());
    else
        for (py::handle p : py::iter(prompt)) {
            if (!py::isinstance<py::str>(p)) throw py::type_error("prompt: expected a str or a list of str");
            r.prompts.push_back(p.cast<std::string>());
        }
    if (py::isinstance<py::str>(stop)) r.stop.push_back(stop.cast<std::string>());
    else if (!stop.is_none())
        for (py::handle s : py::iter(stop)) r.stop.push_back(s.cast<std::string>());
    r.max_tokens = max_tokens;
    r.temperature = temperature;
    r.top_k = top_k;
    r.top_p = top_p;
    r.seed = seed;
    r.echo = echo;
    r.kv_cache = kv_cache;
    return {r, single};
}

py::object generate_text(const ModelHandle& m, const py::object& prompt, int64_t max_tokens, float temperature,
                         int64_t top_k, float top_p, std::optional<uint64_t> seed, const py::object& stop, bool echo,
                         const std::string& kv_cache) {
    auto [request, single] = request_of(prompt, max_tokens, temperature, top_k, top_p, seed, stop, echo, kv_cache);
    std::vector<std::string> out(request.prompts.size());
    {
        py::gil_scoped_release nogil;
        run_generation(*m.lm, request, [&](int64_t b, const std::string& piece) {
            out[size_t(b)] += piece;
            check_signals_released();  // Ctrl-C: KeyboardInterrupt, raised through generate()
            return false;
        });
    }
    if (single) return utf8(out[0]);
    py::list texts;
    for (const std::string& t : out) texts.append(utf8(t));
    return texts;
}

// ids: a list of ints (one sequence) or of lists, or a 1-D / 2-D integer array.
std::vector<std::vector<int64_t>> sequences_of(const py::object& ids) {
    if (py::isinstance<py::array>(ids)) {
        py::array a = py::reinterpret_borrow<py::array>(ids);
        if (a.ndim() == 1) return {to_ids(a)};
        if (a.ndim() != 2) throw py::value_error("ids: expected 1-D or 2-D, got " + std::to_string(a.ndim()) + "-D");
        std::vector<std::vector<int64_t>> out;
        for (py::ssize_t i = 0; i < a.shape(0); ++i) out.push_back(to_ids(a[py::int_(i)]));
        return out;
    }
    py::list items = py::list(ids);
    if (items.empty() || !(py::isinstance<py::list>(items[0]) || py::isinstance<py::tuple>(items[0]) ||
                           py::isinstance<py::array>(items[0])))
        return {to_ids(items)};
    std::vector<std::vector<int64_t>> out;
    for (py::handle row : items) out.push_back(to_ids(row));
    return out;
}

}  // namespace

void register_model(py::module_& m) {
    py::class_<ModelHandle>(m, "Model", R"doc(
A loaded model and its tokenizer (from attend.load).

>>> model = attend.load("stories260K/stories260K.bin")
>>> model.generate("Once upon a time", max_tokens=20, temperature=0)
)doc")
        .def("generate", &generate_text, py::arg("prompt"), py::arg("max_tokens") = 128,
             py::arg("temperature") = 1.f, py::arg("top_k") = 0, py::arg("top_p") = 0.9f,
             py::arg("seed") = py::none(), py::arg("stop") = py::none(), py::arg("echo") = false,
             py::arg("kv_cache") = "f32", R"doc(
Continues `prompt` (a str, or a list of str generated as one batch) and returns the new text
(a str, or a list of str). The same decoding as `attend generate`: temperature 0 is greedy;
otherwise tokens are drawn after temperature, top_k (0: off) and top_p (1: off) from a
generator seeded with `seed` (None: from the clock); prompt i of a list uses seed + i.
Generation ends at the model's end-of-text token, after max_tokens tokens, or at any of the
`stop` strings (a str or a list; not included). echo=True puts the prompt's text first, so
the result is what `attend generate` prints (without its final newline). kv_cache="bf16"
keeps the KV cache in bf16, as `attend generate --kv-cache bf16` (half its memory; logits move
by ~1e-3 of their scale).
)doc")
        .def(
            "stream",
            [](const ModelHandle& self, const std::string& prompt, int64_t max_tokens, float temperature,
               int64_t top_k, float top_p, std::optional<uint64_t> seed, const py::object& stop, bool echo,
               const std::string& kv_cache) {
                auto [request, single] =
                    request_of(py::str(prompt), max_tokens, temperature, top_k, top_p, seed, stop, echo, kv_cache);
                return make_stream(self, request);
            },
            py::arg("prompt"), py::arg("max_tokens") = 128, py::arg("temperature") = 1.f, py::arg("top_k") = 0,
            py::arg("top_p") = 0.9f, py::arg("seed") = py::none(), py::arg("stop") = py::none(),
            py::arg("echo") = false, py::arg("kv_cache") = "f32",
            "Like generate() for one prompt, as an iterator of text pieces (whole characters), each as soon "
            "as it is final. The pieces join to generate()'s text.")
        .def(
            "encode",
            [](const ModelHandle& self, const std::string& text) {
                TextEmbedding e;
                {
                    py::gil_scoped_release nogil;
                    e = embed_text(*self.lm, text);
                }
                return to_numpy(Tensor::from_vector({int64_t(e.values.size())}, e.values));
            },
            py::arg("text"),
            "One vector (E,) for `text`: BERT's pooler output when the model has one, else the mean of the "
            "last hidden states (what `attend encode` prints).")
        .def(
            "logits",
            [](const ModelHandle& self, const py::object& ids) {
                const std::vector<std::vector<int64_t>> seqs = sequences_of(ids);
                Tensor logits;
                {
                    py::gil_scoped_release nogil;
                    const int64_t vocab = self.lm->loaded.config.vocab_size;
                    for (const auto& s : seqs)
                        for (int64_t id : s)
                            ATTEND_CHECK(id >= 0 && id < vocab, "logits: token id ", id, " is outside the vocabulary of ",
                                         self.lm->loaded.path, " (", vocab, " tokens)");
                    NoGradGuard no_grad;
                    logits = self.lm->model().forward(right_padded(seqs));
                }
                return to_numpy(logits);
            },
            py::arg("ids"),
            "The model's output for token ids (a list of ints, a list of lists, or a 1-D/2-D integer array) as a "
            "float32 array (B, T, V); shorter sequences are right-padded (their padded positions are "
            "masked, their logits meaningless).")
        .def(
            "perplexity",
            [](const ModelHandle& self, const std::string& text, int64_t window, int64_t stride) {
                py::gil_scoped_release nogil;
                check_language_model(*self.lm, "perplexity");
                const std::vector<int64_t> ids = self.lm->tokenizer->encode(text, /*add_special=*/true);
                PerplexityOptions p;
                p.window = window;
                p.stride = stride;
                return perplexity_of(token_nll(self.lm->model(), ids, p));
            },
            py::arg("text"), py::arg("window") = 0, py::arg("stride") = 0,
            "exp(mean negative log-likelihood) of `text`'s tokens (with the tokenizer's special tokens), "
            "scored with a sliding window over long texts (what `attend perplexity` prints).")
        .def_property_readonly(
            "config",
            [](const ModelHandle& self) {
                return py::module_::import("json").attr("loads")(config_to_json(self.lm->loaded.config));
            },
            "The model's configuration as a dict (attend's config JSON).")
        .def_property_readonly(
            "tokenizer", [](const ModelHandle& self) {
                return TokenizerHandle{std::shared_ptr<const Tokenizer>(self.lm, self.lm->tokenizer.get())};
            }, "The model's tokenizer (an attend.Tokenizer).")
        .def_property_readonly("path", [](const ModelHandle& self) { return self.lm->loaded.path; })
        .def_property_readonly("format", [](const ModelHandle& self) { return std::string(name_of(self.lm->loaded.format)); },
                               "\"hf_folder\", \"hf_safetensors\", \"attend_checkpoint\" or \"llama2c\".")
        .def_property_readonly("parameters", [](const ModelHandle& self) { return parameter_count(self.lm->loaded.config); })
        .def("__repr__", [](const ModelHandle& self) {
            return "attend.Model(" + std::string(py::repr(py::str(self.lm->loaded.path))) + ", format=" +
                   name_of(self.lm->loaded.format) + ", parameters=" +
                   std::to_string(parameter_count(self.lm->loaded.config)) + ")";
        });

    m.def(
        "load",
        [](const std::string& path, const std::string& tokenizer, const std::string& dtype, bool mmap) {
            py::gil_scoped_release nogil;
            return ModelHandle{std::make_shared<const TextModel>(
                load_text_model(path, tokenizer, parse_weight_type(dtype), LoadOptions{.mmap = mmap}))};
        },
        py::arg("path"), py::arg("tokenizer") = "", py::arg("dtype") = "f32", py::arg("mmap") = false, R"doc(
Loads a model and its tokenizer: a Hugging Face folder (config.json + model.safetensors), a
.safetensors file, a llama2.c .bin, or an attend checkpoint (a folder `attend train` wrote).
The tokenizer beside the model is used unless `tokenizer` names one. dtype "bf16" or "int8"
converts the matrices after loading (faster inference). The file is read into memory (huge
pages) unless mmap=True maps it (README, "Reading or mapping the model file").
)doc");

    m.def(
        "viz",
        [](const ModelHandle& self, const std::string& text, const std::string& out, const std::vector<std::string>& formats,
           bool add_special_tokens) {
            viz::ReportOptions report;
            report.png = report.html = report.json = false;
            for (const std::string& f : formats) {
                ATTEND_CHECK(f == "png" || f == "html" || f == "json", "viz: formats are png, html and json, got \"", f, "\"");
                (f == "png" ? report.png : f == "html" ? report.html : report.json) = true;
            }
            viz::ReportFiles files;
            {
                py::gil_scoped_release nogil;
                const TextModel& lm = *self.lm;
                ATTEND_CHECK(lm.model().config().shape != ModelShape::encoder_decoder, lm.loaded.path,
                             ": viz from Python takes single-stack models (use `attend viz --source --target`)");
                const std::vector<int64_t> ids = lm.tokenizer->encode(text, add_special_tokens);
                ATTEND_CHECK(!ids.empty(), "viz: the text \"", text, "\" gives no tokens");
                viz::AttentionRecord record = viz::record_attention(lm.model(), ids, viz::token_labels(*lm.tokenizer, ids));
                record.title = lm.model().config().name.empty() ? lm.loaded.path
                                                                : lm.model().config().name + " (" + lm.loaded.path + ")";
                files = viz::write_attention_report(out, record, report);
            }
            py::dict d;
            d["png"] = files.png;
            d["html"] = files.html.empty() ? py::object(py::none()) : py::object(py::str(files.html));
            d["json"] = files.json.empty() ? py::object(py::none()) : py::object(py::str(files.json));
            return d;
        },
        py::arg("model"), py::arg("text"), py::arg("out"), py::arg("formats") = std::vector<std::string>{"png", "html"},
        py::arg("add_special_tokens") = true,
        "Writes the attention maps of `model` reading `text` into the folder `out` (what `attend viz` writes: "
        "heatmap PNGs, the interactive attention.html, attention.json) and returns the files written as a dict.");
}

}  // namespace attend::python
