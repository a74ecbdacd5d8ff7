#!/usr/bin/env python3
"""tests/distributed/test_distributed.py — data-parallel `attend train` under mpirun, on
localhost (--allow-run-as-root --oversubscribe, one thread a rank), tiny models so that each
check takes seconds. One check per run (--check NAME):

  equivalence_gpt, equivalence_bert, equivalence_seq2seq
                1 rank with a batch of 6, 1 rank with 3 × 2 and 2 × 3 accumulated
                micro-batches, `mpirun -np 2` and `-np 3` with a batch of 6: the same 50
                training losses (≤ 1e-5 relative per step) and, between the runs with a batch
                of 6, the same validation losses (evaluation split across the ranks); rank 0
                alone prints and writes. GPT also with shares of unequal size (a batch of 4
                on 3 ranks).
  resume        20 steps on 2 ranks, resumed to 35 on 3 ranks and to 50 on 1: the loss
                sequence of 50 uninterrupted steps on 2 ranks (a constant learning rate, so the
                schedule does not depend on --steps)
  kill          SIGKILL to rank 1 of 3 mid-run: mpirun stops within 30 s naming rank 1; the
                checkpoint left behind resumes on 2 ranks with an uninterrupted run's losses
  hang          SIGSTOP to rank 2 of 3 mid-run: the others stop within --comm-timeout (2 s)
                and a grace period, naming rank 2; the checkpoint resumes on 1 rank
  errors        a batch smaller than the rank count: a one-line error from the ranks, every
                rank stopped within 60 s, no output folder left behind
"""
import argparse
import csv
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOLERANCE = 1e-5  # relative, per step


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


class Runner:
    def __init__(self, attend, mpirun, work):
        self.attend, self.mpirun, self.work = attend, mpirun, work
        self.env = dict(os.environ, OMP_NUM_THREADS="1")

    def command(self, ranks, args):
        cmd = [self.attend, "train"] + args
        if ranks:  # under the launcher (0: plain, no launcher at all)
            cmd = [self.mpirun, "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", str(ranks)] + cmd
        return cmd

    def train(self, ranks, args, timeout=300):
        cmd = self.command(ranks, args)
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            fail("%s exited %d:\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r.stdout + r.stderr

    def start(self, ranks, args, log):
        return subprocess.Popen(self.command(ranks, args), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def read_losses(out):
    """{step: (train, val or None)} from OUT/loss.csv."""
    rows = {}
    with open(os.path.join(out, "loss.csv")) as f:
        for row in csv.DictReader(f):
            rows[int(row["step"])] = (float(row["train_loss"]), float(row["val_loss"]) if row["val_loss"] else None)
    return rows


def compare(name, got, want, steps, check_val=True):
    if sorted(got) != list(range(1, steps + 1)) or sorted(want) != list(range(1, steps + 1)):
        fail("%s: loss.csv steps %s, expected 1..%d" % (name, sorted(got)[:3] + ["..."] + sorted(got)[-3:], steps))
    worst = 0.0
    for step in range(1, steps + 1):
        pairs = [(got[step][0], want[step][0])]
        if check_val and want[step][1] is not None:
            if got[step][1] is None:
                fail("%s: no validation loss at step %d" % (name, step))
            pairs.append((got[step][1], want[step][1]))
        for g, w in pairs:
            rel = abs(g - w) / max(abs(w), 1e-12)
            worst = max(worst, rel)
            if rel > TOLERANCE:
                fail("%s: step %d loss %.6f, expected %.6f (relative difference %.2e > %.0e)" % (name, step, g, w, rel,
                                                                                              TOLERANCE))
    print("%s: %d steps agree (worst relative difference %.1e)" % (name, steps, worst))


def write_data(work):
    text = os.path.join(work, "text.txt")
    rng = random.Random(7)
    words = ["the", "king", "queen", "of", "a", "castle", "sword", "and", "rode", "to", "sea", "night", "day", "old"]
    with open(text, "w") as f:
        for _ in range(600):
            f.write(" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))) + ".\n")
    pairs = os.path.join(work, "pairs.tsv")
    with open(pairs, "w") as f:  # reverse a string: lengths vary, so batches are padded
        for _ in range(300):
            s = "".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 12)))
            f.write(s + "\t" + s[::-1] + "\n")
    return text, pairs


def model_args(arch, data, out, **extra):
    args = {"arch": arch, "data": data, "out": out, "layers": 2, "heads": 2, "dim": 32, "block-size": 16,
            "eval-batches": 5, "warmup": 5, "lr": 3e-3, "seed": 11}
    args.update({k.replace("_", "-"): v for k, v in extra.items()})
    flags = []
    for k, v in args.items():
        flags += ["--" + k, str(v)]
    return flags


def check_equivalence(run, arch, data):
    w = run.work
    base = dict(steps=50, eval_every=25)

    def out(name):
        return os.path.join(w, arch + "-" + name)

    log = run.train(0, model_args(arch, data, out("1rank"), batch_size=6, **base) + ["--quiet"])
    reference = read_losses(out("1rank"))
    for micro, accum in ((3, 2), (2, 3)):
        name = "accum%d" % accum
        run.train(0, model_args(arch, data, out(name), batch_size=micro, grad_accum=accum, **base) + ["--quiet"])
        # Evaluation draws batches of --batch-size: only the training losses are comparable.
        compare("%s: 1 rank, %d micro-batches of %d" % (arch, accum, micro), read_losses(out(name)), reference, 50,
                check_val=False)
    for ranks in (2, 3):
        name = "np%d" % ranks
        log = run.train(ranks, model_args(arch, data, out(name), batch_size=6, **base))
        compare("%s: mpirun -np %d" % (arch, ranks), read_losses(out(name)), reference, 50)
        # Rank 0 alone prints: one header line, one line per evaluation.
        if log.count("training %s:" % arch) != 1 or len(re.findall(r"^step \d+: train loss", log, re.M)) != 2 or log.count("done:") != 1 or \
                "data-parallel over %d ranks" % ranks not in log:
            fail("%s -np %d: expected rank 0's output once:\n%s" % (arch, ranks, log))
        files = sorted(os.listdir(out(name)))
        if files != sorted(os.listdir(out("1rank"))):
            fail("%s -np %d wrote %s, 1 rank %s" % (arch, ranks, files, sorted(os.listdir(out("1rank")))))
    if arch == "gpt":  # shares of 1, 1 and 2 sequences
        run.train(0, model_args(arch, data, out("b4"), batch_size=4, **base) + ["--quiet"])
        run.train(3, model_args(arch, data, out("b4np3"), batch_size=4, **base) + ["--quiet"])
        compare("gpt: a batch of 4 on 3 ranks", read_losses(out("b4np3")), read_losses(out("b4")), 50)


CONSTANT = dict(min_lr=3e-3, warmup=0, eval_every=5, batch_size=6)  # the schedule does not depend on --steps


def check_resume(run, text):
    w = run.work
    straight, split = os.path.join(w, "straight"), os.path.join(w, "split")
    run.train(2, model_args("gpt", text, straight, steps=50, **CONSTANT) + ["--quiet"])
    run.train(2, model_args("gpt", text, split, steps=20, **CONSTANT) + ["--quiet"])
    run.train(3, ["--out", split, "--resume", "--steps", "35", "--quiet"])
    run.train(0, ["--out", split, "--resume", "--steps", "50", "--quiet"])
    compare("resume: 2 ranks, then 3, then 1", read_losses(split), read_losses(straight), 50)


def rank_pids(launcher_pid):
    """{rank: pid} of the ranks mpirun started (from their OMPI_COMM_WORLD_RANK)."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if parent != launcher_pid:
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
            if b"OMPI_COMM_WORLD_RANK" in env:
                found[int(env[b"OMPI_COMM_WORLD_RANK"])] = int(pid)
        except (OSError, ValueError, IndexError):
            continue
    return found


def interrupt(run, text, ranks, victim, sig, extra, bound, expect):
    """Starts a long run on `ranks`, sends `sig` to rank `victim` once 3 checkpoints are out,
    checks that mpirun exits non-zero within `bound` seconds with `expect` in its output; then
    the folder it leaves."""
    out = os.path.join(run.work, "faulty")
    log_path = os.path.join(run.work, "faulty.log")
    with open(log_path, "w") as log:
        p = run.start(ranks, model_args("gpt", text, out, steps=100000, **CONSTANT) + extra, log)
        try:
            deadline = time.time() + 120
            while time.time() < deadline:
                if os.path.exists(os.path.join(out, "loss.csv")) and len(read_losses(out)) >= 15:
                    break
                if p.poll() is not None:
                    fail("the run ended before the fault: " + open(log_path).read())
                time.sleep(0.1)
            else:
                fail("no 15 steps within 120 s: " + open(log_path).read())
            pids = rank_pids(p.pid)
            if sorted(pids) != list(range(ranks)):
                fail("found ranks %s among mpirun's children, expected 0..%d" % (sorted(pids), ranks - 1))
            os.kill(pids[victim], sig)
            hit = time.time()
            try:
                code = p.wait(timeout=bound)
            except subprocess.TimeoutExpired:
                fail("mpirun still runs %d s after the fault: a silent hang" % bound)
            took = time.time() - hit
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    output = open(log_path).read()
    if code == 0 or expect not in output:
        fail("after the fault mpirun exited %d; expected a non-zero exit and %r in:\n%s" % (code, expect, output))
    print("rank %d of %d %s: stopped in %.1f s (bound %d s) with %r" % (
        victim, ranks, "killed" if sig == signal.SIGKILL else "stopped", took, bound, expect))
    return out


def check_fault(run, text, kind):
    if kind == "kill":
        out = interrupt(run, text, 3, 1, signal.SIGKILL, ["--quiet"], 30, "rank 1")
        again = 2
    else:
        out = interrupt(run, text, 3, 2, signal.SIGSTOP, ["--quiet", "--comm-timeout", "2"], 30,
                        "rank 2 does not respond")
        again = 0
    leftovers = [f for f in os.listdir(out) if f not in ("checkpoint.safetensors", "loss.csv", "loss.png",
                                                         "tokenizer.json")]
    # Resume where the last checkpoint is, and train 10 steps more: those of an uninterrupted run.
    rows = read_losses(out)
    steps = max(rows) + 10
    run.train(again, ["--out", out, "--resume", "--steps", str(steps), "--quiet"])
    straight = os.path.join(run.work, "straight")
    run.train(0, model_args("gpt", text, straight, steps=steps, **CONSTANT) + ["--quiet"])
    compare("%s: resumed on %d rank(s)" % (kind, max(again, 1)), read_losses(out), read_losses(straight), steps)
    if leftovers:
        print("(the interrupted run left %s; the resumed run cleared them)" % leftovers)


def check_errors(run, text):
    out = os.path.join(run.work, "small-batch")
    cmd = run.command(3, model_args("gpt", text, out, steps=5, batch_size=2))
    started = time.time()
    r = subprocess.run(cmd, env=run.env, capture_output=True, text=True, timeout=60)
    took = time.time() - started
    output = r.stdout + r.stderr
    want = "--batch-size 2 is smaller than the 3 ranks"
    if r.returncode == 0 or want not in output or "attend: error: rank " not in output:
        fail("expected a non-zero exit and %r, got %d:\n%s" % (want, r.returncode, output))
    if os.path.exists(out):
        fail("the failed start left %s behind: %s" % (out, os.listdir(out)))
    print("batch of 2 on 3 ranks: stopped in %.1f s with %r" % (took, want))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attend", required=True)
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--check", required=True,
                    choices=["equivalence_gpt", "equivalence_bert", "equivalence_seq2seq", "resume", "kill", "hang",
                             "errors"])
    a = ap.parse_args()
    if shutil.which(a.mpirun) is None:
        fail("no %s (scripts/setup.sh installs openmpi-bin)" % a.mpirun)
    version = subprocess.run([a.attend, "--version"], capture_output=True, text=True).stdout
    if "MPI: " not in version or "not built in" in version:
        fail("attend --version does not report MPI: %r" % version)
    work = tempfile.mkdtemp(prefix="attend-distributed-")
    try:
        run = Runner(a.attend, a.mpirun, work)
        text, pairs = write_data(work)
        if a.check.startswith("equivalence_"):
            arch = a.check.split("_", 1)[1]
            check_equivalence(run, arch, pairs if arch == "seq2seq" else text)
        elif a.check == "resume":
            check_resume(run, text)
        elif a.check == "errors":
            check_errors(run, text)
        else:
            check_fault(run, text, a.check)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
