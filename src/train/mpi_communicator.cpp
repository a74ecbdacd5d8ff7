// train/mpi_communicator.cpp — the communicator of a run a launcher started as several
// ranks: MPI's non-blocking all-reduce, waited on with a deadline (see train/communicator.hpp).
//
// Why a deadline of our own: a blocking MPI_Allreduce waits forever for a rank that hangs
// (stopped, swapping, stuck on a dead file system), and Open MPI notices a dead one only when
// its launcher does. So every round is non-blocking and polled, and while it polls a rank
// also answers "are you there?" from any other, on a communicator of its own. When a round
// passes its deadline, the rank asks every other rank; those that do not answer within a
// grace period (the timeout, at most 10 s) are the hung ones: it names them and stops the job
// (MPI_Abort). A rank that computes, or is stopped, answers nobody — it is the one everybody
// waits for, whichever round each of the others is in. A rank that dies outright is caught
// sooner by the launcher (mpirun: "process rank 1 ... exited on signal 9"), which kills the
// others at once.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "attend/error.hpp"
#include "attend/train/distributed.hpp"
#include "train/communicator.hpp"

namespace attend {

std::string mpi_support() {
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(text, &length);  // callable before MPI_Init
    std::string line(text, size_t(std::max(0, length)));
    line = line.substr(0, line.find_first_of("\r\n"));
    while (!line.empty() && (line.back() == ',' || line.back() == ' ')) line.pop_back();
    return "MPI: " + line;
}

namespace {

using Clock = std::chrono::steady_clock;

// MPI is initialised once per process, the first time a run needs it, and finalised at exit.
void ensure_initialised() {
    int ready = 0;
    MPI_Initialized(&ready);
    if (ready) return;
    int provided = 0;
    // FUNNELED: OpenMP threads compute; only the thread that called train() talks to MPI.
    ATTEND_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS,
                 "MPI_Init_thread failed");
    std::atexit([] {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (!finalised) MPI_Finalize();
    });
}

class Mpi final : public Communicator {
public:
    explicit Mpi(double timeout) : timeout_(timeout) {
        ensure_initialised();
        // Our own copies of the world: MPI errors come back as codes (turned into messages
        // naming the rank), and the "I am here" messages never meet the sums.
        MPI_Comm_dup(MPI_COMM_WORLD, &sums_);
        MPI_Comm_dup(MPI_COMM_WORLD, &control_);
        MPI_Comm_set_errhandler(sums_, MPI_ERRORS_RETURN);
        MPI_Comm_set_errhandler(control_, MPI_ERRORS_RETURN);
        MPI_Comm_rank(sums_, &rank_);
        MPI_Comm_size(sums_, &size_);
        MPI_Comm local;
        MPI_Comm_split_type(sums_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
        MPI_Comm_size(local, &local_size_);
        MPI_Comm_free(&local);
        listen();
    }
    ~Mpi() override {
        MPI_Cancel(&question_);
        MPI_Wait(&question_, MPI_STATUS_IGNORE);
        MPI_Comm_free(&control_);
        MPI_Comm_free(&sums_);
    }

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    int local_size() const override { return local_size_; }

    void start_sum(std::span<float> values) override { start(values.data(), values.size(), MPI_FLOAT); }
    void start_sum(std::span<double> values) override { start(values.data(), values.size(), MPI_DOUBLE); }

    void finish(const std::string& what) override {
        const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_);
        for (int idle = 0; !all_done(requests_, what); ++idle) {
            answer_questions();
            if (Clock::now() > deadline) timed_out(what);
            pause(idle);
        }
        requests_.clear();
    }

    [[noreturn]] void abort(const std::string& message) override {
        std::fprintf(stderr, "attend: error: rank %d of %d: %s\n", rank_, size_, message.c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
        std::_Exit(1);  // MPI_Abort does not return; should it, stop this rank at least
    }

private:
    void start(void* data, size_t n, MPI_Datatype type) {
        const size_t width = type == MPI_FLOAT ? sizeof(float) : sizeof(double);
        for (size_t at = 0; at < n;) {  // MPI counts are ints
            const size_t count = std::min<size_t>(n - at, INT_MAX / 2);
            requests_.push_back(MPI_REQUEST_NULL);
            check(MPI_Iallreduce(MPI_IN_PLACE, static_cast<char*>(data) + at * width, int(count), type, MPI_SUM, sums_,
                                 &requests_.back()),
                  "a sum");
            at += count;
        }
    }

    // True when every request completed (completed ones become MPI_REQUEST_NULL).
    bool all_done(std::vector<MPI_Request>& requests, const std::string& what) {
        int flag = 0;
        check(MPI_Testall(int(requests.size()), requests.data(), &flag, MPI_STATUSES_IGNORE), what);
        return flag != 0;
    }

    // Spin briefly (a sum of small buckets completes in microseconds), then poll gently, so
    // that ranks sharing cores leave them to the ones still computing.
    static void pause(int idle) {
        if (idle > 200) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }

    // "Are you there?" from another rank: "yes".
    void answer_questions() {
        for (;;) {
            int flag = 0;
            MPI_Status status;
            check(MPI_Test(&question_, &flag, &status), "answering another rank");
            if (!flag) return;
            MPI_Request answer;
            check(MPI_Isend(&yes_, 1, MPI_INT, status.MPI_SOURCE, kAnswer, control_, &answer), "answering another rank");
            MPI_Request_free(&answer);
            listen();
        }
    }

    void listen() {
        check(MPI_Irecv(&asked_, 1, MPI_INT, MPI_ANY_SOURCE, kQuestion, control_, &question_), "listening");
    }

    [[noreturn]] void timed_out(const std::string& what) {
        // Ask everybody, keep answering (and polling) for the grace period, name the silent.
        std::vector<MPI_Request> asks, answers(size_t(size_), MPI_REQUEST_NULL);
        std::vector<int> replies(size_t(size_), 0);
        for (int peer = 0; peer < size_; ++peer) {
            if (peer == rank_) continue;
            asks.push_back(MPI_REQUEST_NULL);
            check(MPI_Isend(&yes_, 1, MPI_INT, peer, kQuestion, control_, &asks.back()), "asking the other ranks");
            check(MPI_Irecv(&replies[size_t(peer)], 1, MPI_INT, peer, kAnswer, control_, &answers[size_t(peer)]),
                  "asking the other ranks");
        }
        const double grace = std::min(10.0, timeout_);
        const auto end = Clock::now() + std::chrono::duration<double>(grace);
        for (int idle = 0; Clock::now() < end && !all_done(answers, "asking the other ranks"); ++idle) {
            answer_questions();
            all_done(requests_, what);  // keep our own sums moving
            pause(idle);
        }
        std::string silent;
        int n_silent = 0;
        for (int peer = 0; peer < size_; ++peer) {
            if (answers[size_t(peer)] == MPI_REQUEST_NULL) continue;
            int flag = 0;
            MPI_Test(&answers[size_t(peer)], &flag, MPI_STATUS_IGNORE);
            if (flag) continue;
            silent += (silent.empty() ? "" : ", ") + std::to_string(peer), ++n_silent;
        }
        char waited[64];
        std::snprintf(waited, sizeof waited, "%g s (--comm-timeout) and %g s more", timeout_, grace);
        if (n_silent == 0)
            abort("every rank answers, but " + what + " did not finish within " + waited);
        abort(std::string(n_silent == 1 ? "rank " : "ranks ") + silent + (n_silent == 1 ? " does" : " do") +
              " not respond (hung, or dead without the launcher noticing): " + what + " waited " + waited +
              "; stopping every rank");
    }

    void check(int code, const std::string& what) {
        if (code == MPI_SUCCESS) return;
        char text[MPI_MAX_ERROR_STRING];
        int length = 0;
        MPI_Error_string(code, text, &length);
        abort("MPI failed in " + what + ": " + std::string(text, size_t(std::max(0, length))) +
              " (another rank may have died)");
    }

    static constexpr int kQuestion = 1, kAnswer = 2;  // tags on control_
    double timeout_;
    MPI_Comm sums_ = MPI_COMM_NULL, control_ = MPI_COMM_NULL;  // the sums; the questions and answers
    int rank_ = 0, size_ = 1, local_size_ = 1;
    int yes_ = 1, asked_ = 0;
    MPI_Request question_ = MPI_REQUEST_NULL;  // listening for "are you there?" from any rank
    std::vector<MPI_Request> requests_;        // the round's sums
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(double timeout_seconds) {
    return std::make_unique<Mpi>(timeout_seconds);
}

}  // namespace attend
