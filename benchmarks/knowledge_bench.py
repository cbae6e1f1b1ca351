"""Knowledge-base benchmark for the offline default: ingest throughput and query latency.

Chunks are synthesised from the bundled sample: every real section is repeated with its
sentences rotated and a variant tag in title and id, so the corpus has the sample's
vocabulary and lengths at any size. Queries are the labelled eval questions.

    .venv/bin/python benchmarks/knowledge_bench.py --chunks 10000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

from graph.base.settings import Settings
from knowledge.base import SAMPLE_DIR, open_collection
from knowledge.chunking import Chunk, chunks_of
from knowledge.evaluation import load_questions
from knowledge.formats import parse_markdown


def synthetic_chunks(count: int) -> list[Chunk]:
    real = [c for p in sorted(SAMPLE_DIR.glob("*.md"))
            for c in chunks_of(parse_markdown(p.read_bytes(), p.stem, str(p), p.as_uri()))]
    made = []
    for n in range(count):
        base = real[n % len(real)]
        variant = n // len(real)
        sentences = base.text.split(". ")
        shift = variant % len(sentences)
        made.append(replace(base, id=f"{base.id}~v{variant}", title=f"{base.title} {variant}",
                            source=f"{base.source}?v={variant}",
                            text=". ".join(sentences[shift:] + sentences[:shift])))
    return made


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the eval questions")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory() as folder:
        kb = open_collection(Settings(data_dir=Path(folder), _env_file=None))
        chunks = synthetic_chunks(args.chunks)
        start = time.perf_counter()
        kb.upsert(chunks)
        ingest_s = time.perf_counter() - start
        start = time.perf_counter()
        kb.lexical()
        index_s = time.perf_counter() - start
        questions = [q["question"] for q in load_questions()]
        for question in questions[:10]:  # warm caches
            kb.search_sync(question, 4)
        latencies = []
        for _ in range(args.rounds):
            for question in questions:
                start = time.perf_counter()
                kb.search_sync(question, 4)
                latencies.append((time.perf_counter() - start) * 1000)
    print(f"chunks={args.chunks} ingest={ingest_s:.1f}s ({args.chunks / ingest_s:.0f} chunks/s) "
          f"bm25_build={index_s:.2f}s queries={len(latencies)} "
          f"p50={percentile(latencies, 50):.1f}ms p95={percentile(latencies, 95):.1f}ms")


if __name__ == "__main__":
    main()
