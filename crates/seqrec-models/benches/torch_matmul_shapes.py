"""The shapes of `matmul_shapes.rs` in PyTorch (its CPU BLAS).

    python3 torch_matmul_shapes.py hidden=1000 lanes=100 threads=1
"""
import sys
import time

import torch


def arg(name, default):
    for a in sys.argv[1:]:
        if a.startswith(name + "="):
            return type(default)(a.split("=", 1)[1])
    return default


def main():
    hidden, lanes, items = arg("hidden", 1000), arg("lanes", 100), arg("items", 8917)
    torch.set_num_threads(arg("threads", 1))
    rows = lanes * 20
    shapes = [
        ("step: h W_h (forward, per step)", lanes, hidden, 2 * hidden),
        ("step: h-side dW (backward, per step)", hidden, lanes, 2 * hidden),
        ("window: inputs (all steps at once)", rows, hidden, 3 * hidden),
        ("window: input dW (all steps at once)", hidden, rows, 3 * hidden),
        ("output: logits H W", rows, hidden, items),
        ("output: dH = G Wt", rows, items, hidden),
        ("output: dWt = Gt H", items, rows, hidden),
    ]
    print(f"| product | m x k x n | PyTorch {torch.__version__} GFLOP/s ({torch.get_num_threads()} threads) |")
    print("|---|---|---|")
    for what, m, k, n in shapes:
        a, b = torch.rand(m, k), torch.rand(k, n)
        best = float("inf")
        for _ in range(arg("repeats", 3)):
            started = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - started)
        print(f"| {what} | {m} x {k} x {n} | {2 * m * k * n / best / 1e9:.1f} |")


if __name__ == "__main__":
    main()
