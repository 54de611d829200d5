"""OpenBLAS sgemm timed through torch.mm, driven by peft4j's GemmBench over stdin/stdout.

Usage: OPENBLAS_NUM_THREADS=T python3 gemm_openblas.py T
Debian's torch reaches OpenBLAS through the generic BLAS interface, so torch.set_num_threads alone
does not size OpenBLAS's own thread pool: the environment variable does (the reply to "hello" reports
the count OpenBLAS itself says it uses).

One JSON request per line, one JSON reply per line:
  {"op": "hello"}                                  -> {"torch", "blas", "openblas_threads"}
  {"op": "prepare", "m", "n", "k", "variant", "warmup_s", "sample_s"}
                                                   -> {"iters"}  (allocates, warms up, sizes a sample)
  {"op": "sample"}                                 -> {"seconds"} (per call, over one sample)
  {"op": "quit"}
The caller alternates its own samples with ours, so both see the same machine load.
"""
import json
import sys
import time

import torch

from openblas_probe import loaded_openblas, openblas_threads


def operands(m, n, k, variant):
    g = torch.Generator().manual_seed(1)
    a = torch.rand(k, m, generator=g).t() if variant[0] == "T" else torch.rand(m, k, generator=g)
    b = torch.rand(n, k, generator=g).t() if variant[1] == "T" else torch.rand(k, n, generator=g)
    return a, b, torch.empty(m, n)


def main():
    torch.set_num_threads(int(sys.argv[1]))
    call, iters = None, 1
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "hello":
            lib = loaded_openblas()
            reply = {"torch": torch.__version__, "blas": lib or "unknown", "openblas_threads": openblas_threads(lib)}
        elif op == "prepare":
            a, b, c = operands(req["m"], req["n"], req["k"], req["variant"])
            call = lambda: torch.mm(a, b, out=c)
            end = time.perf_counter() + req["warmup_s"]
            calls, start = 0, time.perf_counter()
            while time.perf_counter() < end or calls < 3:
                call()
                calls += 1
            per_call = (time.perf_counter() - start) / calls
            iters = max(1, int(req["sample_s"] / per_call))
            reply = {"iters": iters}
        elif op == "sample":
            t0 = time.perf_counter()
            for _ in range(iters):
                call()
            reply = {"seconds": (time.perf_counter() - t0) / iters}
        elif op == "quit":
            return
        else:
            reply = {"error": "unknown op " + op}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
