// python/src/stream.cpp — model.stream(...): text pieces as they are generated.
//
// The generation runs on a worker thread of its own (it never touches Python); __next__ waits
// for the next piece with the GIL released, waking every 50 ms to see a Ctrl-C. Dropping the
// iterator (or Ctrl-C) cancels the generation: the worker ends its sequence after the token in
// hand, and the destructor joins it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "bindings.hpp"
#include "model_handle.hpp"

namespace attend::python {
namespace {

class TextIterator {
public:
    TextIterator(std::shared_ptr<const TextModel> lm, GenerationRequest request) : lm_(std::move(lm)) {
        worker_ = std::thread([this, request = std::move(request)] {
            try {
                run_generation(*lm_, request, [this](int64_t, const std::string& piece) {
                    if (!piece.empty()) {
                        std::lock_guard lock(mutex_);
                        pieces_.push_back(piece);
                    }
                    ready_.notify_one();
                    return cancel_.load();
                });
            } catch (...) {
                std::lock_guard lock(mutex_);
                error_ = std::current_exception();
            }
            {
                std::lock_guard lock(mutex_);
                done_ = true;
            }
            ready_.notify_one();
        });
    }
    ~TextIterator() {
        cancel_ = true;
        if (worker_.joinable()) {
            // The worker never takes the GIL, but give it up anyway: joining may take a token's time.
            py::gil_scoped_release nogil;
            worker_.join();
        }
    }
    TextIterator(const TextIterator&) = delete;
    TextIterator& operator=(const TextIterator&) = delete;

    py::str next() {
        std::string piece;
        for (;;) {
            bool have = false, finished = false;
            {
                py::gil_scoped_release nogil;
                std::unique_lock lock(mutex_);
                ready_.wait_for(lock, std::chrono::milliseconds(50), [&] { return !pieces_.empty() || done_; });
                if (!pieces_.empty()) {
                    piece = std::move(pieces_.front());
                    pieces_.pop_front();
                    have = true;
                } else if (done_) {
                    finished = true;
                }
            }
            if (have) break;
            if (finished) {
                if (error_) {
                    std::exception_ptr e = error_;
                    error_ = nullptr;  // raised once; later calls end the iteration
                    std::rethrow_exception(e);
                }
                throw py::stop_iteration();
            }
            if (PyErr_CheckSignals() != 0) {
                cancel_ = true;
                throw py::error_already_set();
            }
        }
        return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(piece.data(), py::ssize_t(piece.size()), "replace"));
    }

    void close() { cancel_ = true; }

private:
    std::shared_ptr<const TextModel> lm_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::string> pieces_;
    bool done_ = false;
    std::exception_ptr error_;
    std::atomic<bool> cancel_{false};
    std::thread worker_;  // last: started once everything above exists
};

}  // namespace

void register_stream(py::module_& m) {
    py::class_<TextIterator>(m, "TextIterator", "The text pieces of one generation, as model.stream yields them.")
        .def("__iter__", [](py::object self) { return self; })
        .def("__next__", &TextIterator::next)
        .def("close", &TextIterator::close, "Stops the generation (the iterator then ends).");
}

py::object make_stream(const ModelHandle& model, const GenerationRequest& request) {
    return py::cast(new TextIterator(model.lm, request), py::return_value_policy::take_ownership);
}

}  // namespace attend::python
