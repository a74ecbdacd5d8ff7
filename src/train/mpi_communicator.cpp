// train/mpi_communicator.cpp — the communicator of a run a launcher started as several
// ranks: MPI's non-blocking all-reduce, waited on with a deadline (see train/communicator.hpp).
//
// Why a deadline of our own: a blocking MPI_Allreduce waits forever for a rank that hangs
// (stopped, swapping, stuck on a dead file system), and Open MPI notices a dead one only when
// its launcher does. So every round is non-blocking and polled: at the start of a round each
// rank also tells rank 0 "I am here" (and rank 0 tells every rank), on a communicator of its
// own; when the deadline passes, rank 0 knows exactly which ranks never came, names them and
// stops the job (MPI_Abort). A rank other than 0 names rank 0 if rank 0 never came, else
// leaves rank 0 a moment to decide, then stops the job itself. A rank that dies outright is
// caught sooner by the launcher (mpirun: "process rank 1 ... exited on signal 9"), which
// kills the others at once.
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
        MPI_Comm_dup(MPI_COMM_WORLD, &arrivals_);
        MPI_Comm_set_errhandler(sums_, MPI_ERRORS_RETURN);
        MPI_Comm_set_errhandler(arrivals_, MPI_ERRORS_RETURN);
        MPI_Comm_rank(sums_, &rank_);
        MPI_Comm_size(sums_, &size_);
        MPI_Comm local;
        MPI_Comm_split_type(sums_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
        MPI_Comm_size(local, &local_size_);
        MPI_Comm_free(&local);
    }
    ~Mpi() override {
        MPI_Comm_free(&arrivals_);
        MPI_Comm_free(&sums_);
    }

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    int local_size() const override { return local_size_; }

    void start_sum(std::span<float> values) override { start(values.data(), values.size(), MPI_FLOAT); }
    void start_sum(std::span<double> values) override { start(values.data(), values.size(), MPI_DOUBLE); }

    void finish(const std::string& what) override {
        announce();
        std::vector<bool> done(requests_.size(), false);
        const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_);
        for (int idle = 0;;) {
            bool all = true;
            for (size_t i = 0; i < requests_.size(); ++i) {
                if (done[i]) continue;
                int flag = 0;
                check(MPI_Test(&requests_[i], &flag, MPI_STATUS_IGNORE), what);
                done[i] = flag != 0;
                all = all && done[i];
            }
            if (all) break;
            if (Clock::now() > deadline) timed_out(what, done);
            // Spin briefly (a sum of small buckets completes in microseconds), then poll
            // gently so that ranks sharing cores leave them to the ones still computing.
            if (++idle > 200) std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        requests_.clear();
        arrival_index_.clear();
        ++round_;
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

    // "I am here, at round r": every rank to rank 0, rank 0 to every rank.
    void announce() {
        out_ = round_;
        in_.assign(size_t(size_), -1);
        const std::vector<int> peers = rank_ == 0 ? others() : std::vector<int>{0};
        for (int peer : peers) {
            requests_.push_back(MPI_REQUEST_NULL);
            check(MPI_Isend(&out_, 1, MPI_LONG_LONG, peer, 0, arrivals_, &requests_.back()), "a round's start");
            requests_.push_back(MPI_REQUEST_NULL);
            arrival_index_.push_back({peer, requests_.size() - 1});
            check(MPI_Irecv(&in_[size_t(peer)], 1, MPI_LONG_LONG, peer, 0, arrivals_, &requests_.back()),
                  "a round's start");
        }
    }

    std::vector<int> others() const {
        std::vector<int> r;
        for (int i = 1; i < size_; ++i) r.push_back(i);
        return r;
    }

    [[noreturn]] void timed_out(const std::string& what, const std::vector<bool>& done) {
        std::vector<int> missing;
        for (const auto& [peer, index] : arrival_index_)
            if (!done[index]) missing.push_back(peer);
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%g s", timeout_);
        if (rank_ != 0 && missing.empty()) {
            // Rank 0 came, so it knows who did not: give it a moment to say so and stop the job.
            std::this_thread::sleep_for(std::chrono::duration<double>(std::min(10.0, timeout_)));
            abort(what + " did not finish within " + seconds + " (rank 0 reached it; another rank did not)");
        }
        if (missing.empty()) abort("every rank reached " + what + " but it did not finish within " + seconds);
        std::string names;
        for (int peer : missing) names += (names.empty() ? "" : ", ") + std::to_string(peer);
        abort(std::string(missing.size() == 1 ? "rank " : "ranks ") + names + (missing.size() == 1 ? " has" : " have") +
              " not reached " + what + " within " + seconds +
              " (hung, or dead without the launcher noticing; --comm-timeout sets the wait); stopping every rank");
    }

    void check(int code, const std::string& what) {
        if (code == MPI_SUCCESS) return;
        char text[MPI_MAX_ERROR_STRING];
        int length = 0;
        MPI_Error_string(code, text, &length);
        abort("MPI failed in " + what + ": " + std::string(text, size_t(std::max(0, length))) +
              " (another rank may have died)");
    }

    double timeout_;
    MPI_Comm sums_ = MPI_COMM_NULL, arrivals_ = MPI_COMM_NULL;
    int rank_ = 0, size_ = 1, local_size_ = 1;
    long long round_ = 0, out_ = 0;
    std::vector<long long> in_;
    std::vector<MPI_Request> requests_;
    std::vector<std::pair<int, size_t>> arrival_index_;  // (peer, index of its "I am here" in requests_)
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(double timeout_seconds) {
    return std::make_unique<Mpi>(timeout_seconds);
}

}  // namespace attend
