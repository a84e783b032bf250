"""tulu_rewards.openrlhf: the remote reward server for OpenRLHF's `--remote_rm_url` / `--reward.remote_url`.

Requests are what OpenRLHF's `SingleTurnAgentExecutor._fetch_rewards_via_http` (openrlhf/utils/agent.py) POSTs:
`{"query": [...], "prompts": [...], "labels": [...]}`; it reads `rewards`, `scores` and `extra_logs` back, as
openrlhf/cli/serve_rm.py answers them. A malformed request gets a 4xx with a one-line JSON message, and the
server goes on serving."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from tulu_rewards.openrlhf import Scorer, reward_func, serve_in_thread

PROMPT = "<|im_start|>user\nWhat is 1/2 + 1/4? Put the answer in a box.<|im_end|>\n<|im_start|>assistant\n"
LOWERCASE = json.dumps({"func_name": "validate_lowercase"})


@pytest.fixture(scope="module")
def server():
    """A server whose labels name their verifier (`{"dataset": ..., "ground_truth": ...}`)."""
    server = serve_in_thread(Scorer())
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def math_server():
    """`tulu-rewards serve --verifier math`: every label is a MATH answer; a 1 KiB request limit."""
    server = serve_in_thread(Scorer(verifier="math"))
    server.max_request_bytes = 1024
    yield server
    server.shutdown()
    server.server_close()


def post(server, body: bytes | dict, path: str = "/get_reward", headers: dict | None = None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(
            "POST", path, body=data, headers={"Content-Type": "application/json", **(headers or {})}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def assert_still_serving(server) -> None:
    label = {"dataset": "gsm8k", "ground_truth": "7"}
    assert post(server, {"query": ["so 7"], "prompts": [""], "labels": [label]}) == (
        200,
        {
            "rewards": [1.0],
            "scores": [1.0],
            "extra_logs": {"correct": [1.0], "unparseable": [0.0], "error": [0.0]},
        },
    )


def test_openrlhf_request_is_scored(math_server):
    # One row per request, as OpenRLHF sends them: the query is the prompt and the response decoded together
    # with special tokens, so the end-of-turn marker trails the response.
    queries = [
        PROMPT + "1/2 + 1/4 = \\boxed{\\frac34}<|im_end|>",
        PROMPT + "\\boxed{0.7}<|im_end|>",
        PROMPT + "no idea",
    ]
    status, reply = post(math_server, {"query": queries, "prompts": [PROMPT] * 3, "labels": ["3/4"] * 3})
    assert status == 200
    assert reply["rewards"] == reply["scores"] == [1.0, 0.0, 0.0]
    assert reply["extra_logs"] == {
        "correct": [1.0, 0.0, 0.0],
        "unparseable": [0.0, 0.0, 1.0],
        "error": [0.0] * 3,
    }
    # prompts may be absent: the whole query is the response
    assert post(math_server, {"query": ["\\boxed{2}"], "labels": ["2"]})[1]["rewards"] == [1.0]


def test_labels_name_their_verifier(server):
    labels = [
        {"dataset": "gsm8k", "ground_truth": "18"},
        json.dumps({"dataset": "ifeval", "ground_truth": LOWERCASE}),  # the label column as JSON text
        {"dataset": "MATH", "ground_truth": ""},  # a ground truth that does not parse: that row's error
    ]
    status, reply = post(
        server, {"query": ["#### 18", "all lower", "\\boxed{1}"], "prompts": ["", "", ""], "labels": labels}
    )
    assert (status, reply["rewards"], reply["extra_logs"]["error"]) == (200, [1.0, 1.0, 0.0], [0.0, 0.0, 1.0])


MALFORMED_IDS = ["json", "binary", "array", "no-query", "query-text", "query-item", "prompts", "no-labels",
                 "labels-length", "label-form", "label-name", "unknown-verifier"]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "request body is not JSON (Expecting property name enclosed in double quotes"),
        (b"\xff\xfe", 400, "request body is not JSON ("),
        ([1, 2], 400, "expected a JSON object with query, prompts and labels, got list"),
        ({"prompts": [""], "labels": ["1"]}, 400, "query: expected a list of strings, got NoneType"),
        ({"query": "so 1", "labels": ["1"]}, 400, "query: expected a list of strings, got str"),
        ({"query": [1], "labels": ["1"]}, 400, "query[0]: expected a string, got int"),
        ({"query": ["a"], "prompts": ["", ""], "labels": ["1"]}, 400, "prompts: 2 items for 1 queries"),
        ({"query": ["a"]}, 400, "labels: missing (start OpenRLHF with --data.label_key"),
        ({"query": ["a", "b"], "labels": ["1"]}, 400, "labels: expected a list of 2 ground truths"),
        (
            {"query": ["a"], "labels": ["7"]},
            400,
            "labels[0]: expected an object with 'dataset' and 'ground_truth'",
        ),
        (
            {"query": ["a"], "labels": [{"dataset": 3, "ground_truth": "1"}]},
            400,
            "labels[0]: no verifier name",
        ),
        (
            {"query": ["a"], "labels": [{"dataset": "nope", "ground_truth": "1"}]},
            400,
            'labels[0]: unknown verifier "nope"',
        ),
    ],
    ids=MALFORMED_IDS,
)
def test_a_malformed_request_gets_a_4xx_with_a_message_and_the_server_goes_on(server, body, status, message):
    code, reply = post(server, body)
    assert code == status and reply["error"].startswith(message), reply
    assert "\n" not in reply["error"]
    assert_still_serving(server)


def test_http_level_errors(server, math_server):
    assert post(server, {}, path="/nope") == (404, {"error": "no such endpoint /nope; POST to /get_reward"})
    too_big = {"query": ["x" * 2000], "labels": ["1"]}
    code, reply = post(math_server, too_big)
    assert code == 413 and reply["error"].startswith("request body of ")
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as raw:  # no Content-Length
        raw.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 411")
    with socket.create_connection((host, port), timeout=10) as raw:  # not HTTP at all
        raw.sendall(b"\x16\x03\x01 hello\r\n\r\n")
        answer = raw.recv(4096)
        assert b" 400 " in answer.split(b"\r\n")[0] and b'"error"' in answer
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request("GET", "/health")
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())) == (200, {"status": "ok", "verifier": None})
    connection.close()
    assert_still_serving(server)


def test_keep_alive_and_concurrent_clients(server):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)  # one connection, several requests
    for answer in ("3", "4", "5"):
        body = json.dumps({"query": [f"so {answer}"], "labels": [{"dataset": "gsm8k", "ground_truth": "4"}]})
        connection.request("POST", "/get_reward", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert json.loads(response.read())["rewards"] == [float(answer == "4")]
    connection.close()
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda i: post(server, {"query": [f"#### {i}"], "labels": [{"dataset": "gsm8k", "ground_truth": str(i % 2)}]}), range(64)))  # fmt: skip
    assert [r[1]["rewards"] for r in replies] == [[float(i in (0, 1))] for i in range(64)]


def test_python_file_reward_function():
    # OpenRLHF loads `reward_func(queries, prompts, labels)` from a .py path given as the remote URL.
    reply = reward_func(["Q: 2+2? #### 4"], ["Q: 2+2?"], [{"dataset": "gsm8k", "ground_truth": "4"}])
    assert reply["rewards"] == [1.0] and reply["scores"] == [1.0]


def test_serve_command(tmp_path):
    command = [sys.executable, "-m", "tulu_rewards", "serve", "--port", "0", "--verifier", "gsm8k"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("tulu-rewards: serving http://127.0.0.1:") and "(verifier: gsm8k)" in line
        url = line.split()[2]
        host, port = url.removeprefix("http://").split("/")[0].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("POST", "/get_reward", body=json.dumps({"query": ["#### 3"], "labels": ["3"]}))
        assert json.loads(connection.getresponse().read())["rewards"] == [1.0]
        connection.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    done = subprocess.run([*command[:-1], "nope"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith('error: --verifier: unknown verifier "nope"')
    assert done.stderr.count("\n") == 1
