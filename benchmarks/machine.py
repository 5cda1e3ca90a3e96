"""The machine's speed, printed next to every benchmark figure: a float32 matmul rate."""

import os
import statistics
import time


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Median GFLOP/s of a float32 (size x size) @ (size x size) matmul in TensorFlow."""
    import tensorflow as tf

    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    tf.matmul(a, b).numpy()  # warm up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.matmul(a, b).numpy()
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def machine() -> dict:
    """What to record with a figure: cores and the matmul rate measured now."""
    return {"cpu_count": os.cpu_count(), "matmul_2048_gflops": round(matmul_gflops(), 1)}
