"""Load on the OpenRLHF reward server (`tulu-rewards serve`) from 1 and 32 concurrent clients on 127.0.0.1.

    python benchmarks/reward_server.py [--seconds 10] [--clients 1,32] [--rows-per-request 1]

The server runs in its own process, as a trainer would reach it. Each client is a thread holding one keep-alive
connection and sending OpenRLHF's requests (`{"query", "prompts", "labels"}`, one row each by default, as
OpenRLHF's SingleTurnAgentExecutor sends them) drawn from the conformance corpora: MATH answers, IFEval and Tülu 3
IF constraints, labels naming their verifier. Prints requests/s, rows/s and the p50/p99 latency per client
count, and, as the reference measured in the same run, the rows/s of the same rows scored in-process by
`tulu_rewards.openrlhf.reward_func` one request at a time (the ratio is what HTTP and JSON cost).
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from tulu_rewards.openrlhf import reward_func

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "rewards"


def corpus(name: str) -> list[dict]:
    with (DATA / f"{name}_corpus.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def workload(rows_per_request: int) -> list[dict]:
    """OpenRLHF request bodies, a mix of verifiers, each row's query a chat prompt followed by its response."""
    rows = []
    for row in corpus("math")[:600]:
        rows.append(("math", row["gold"], row["response"]))
    for row in corpus("ifeval")[:300]:
        truth = json.dumps({"instruction_id_list": [row["id"]], "kwargs": [row["kwargs"]]})
        rows.append(("ifeval", truth, row["response"]))
    for row in corpus("tulu_if")[:300]:
        rows.append(("ifeval", row["ground_truth"], row["response"]))
    rows = [rows[i] for i in sorted(range(len(rows)), key=lambda i: (i * 7919) % len(rows))]  # interleave
    prompt = "<|im_start|>user\nAnswer the question.<|im_end|>\n<|im_start|>assistant\n"
    requests = []
    for start in range(0, len(rows), rows_per_request):
        chunk = rows[start : start + rows_per_request]
        requests.append(
            {
                "query": [prompt + response + "<|im_end|>" for _, _, response in chunk],
                "prompts": [prompt] * len(chunk),
                "labels": [{"dataset": verifier, "ground_truth": truth} for verifier, truth, _ in chunk],
            }
        )
    return requests


def start_server() -> tuple[subprocess.Popen, str, int]:
    command = [sys.executable, "-m", "tulu_rewards", "serve", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()  # "tulu-rewards: serving http://HOST:PORT/get_reward (...)"
    host, port = line.split()[2].removeprefix("http://").split("/")[0].split(":")
    return process, host, int(port)


def client(
    host: str, port: int, bodies: list[bytes], offset: int, stop: float, latencies: list[float]
) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Content-Type": "application/json"}
    i = offset
    while time.perf_counter() < stop:
        body = bodies[i % len(bodies)]
        started = time.perf_counter()
        connection.request("POST", "/get_reward", body=body, headers=headers)
        response = connection.getresponse()
        reply = response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {reply[:200]!r}")
        i += 1
    connection.close()


def load(host: str, port: int, bodies: list[bytes], clients: int, seconds: float) -> list[float]:
    stop = time.perf_counter() + seconds
    per_client: list[list[float]] = [[] for _ in range(clients)]
    threads = [
        threading.Thread(target=client, args=(host, port, bodies, k * 37, stop, per_client[k]))
        for k in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [latency for latencies in per_client for latency in latencies]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def in_process_rows_per_s(requests: list[dict], seconds: float) -> float:
    rows, stop, i = 0, time.perf_counter() + seconds, 0
    started = time.perf_counter()
    while time.perf_counter() < stop:
        request = requests[i % len(requests)]
        reward_func(request["query"], request["prompts"], request["labels"])
        rows, i = rows + len(request["query"]), i + 1
    return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration per client count")
    parser.add_argument("--clients", default="1,32", help="comma-separated concurrent client counts")
    parser.add_argument("--rows-per-request", type=int, default=1)
    args = parser.parse_args()

    requests = workload(args.rows_per_request)
    bodies = [json.dumps(r).encode() for r in requests]
    reference = in_process_rows_per_s(requests, min(args.seconds, 5.0))
    print(f"workload: {len(requests)} requests of {args.rows_per_request} row(s) (MATH, IFEval, Tülu 3 IF)")
    print(f"reference: reward_func in-process, one request at a time: {reference:,.0f} rows/s")
    process, host, port = start_server()
    try:
        load(host, port, bodies, 1, 1.0)  # warm up: the server's pool, the client's connection
        for clients in (int(c) for c in args.clients.split(",")):
            latencies = load(host, port, bodies, clients, args.seconds)
            requests_per_s = len(latencies) / args.seconds
            rows_per_s = requests_per_s * args.rows_per_request
            print(
                f"clients {clients:>3}: {requests_per_s:>8,.0f} requests/s  {rows_per_s:>8,.0f} rows/s  "
                f"p50 {percentile(latencies, 0.50) * 1e3:6.2f} ms  p99 {percentile(latencies, 0.99) * 1e3:6.2f} ms  "
                f"({rows_per_s / reference:.2f}x in-process)"
            )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
