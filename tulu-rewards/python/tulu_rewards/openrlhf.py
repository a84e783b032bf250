"""OpenRLHF: a remote reward server for `--reward.remote_url` (`--remote_rm_url` before OpenRLHF 0.10.2).

    tulu-rewards serve --port 5000 --verifier math          # every label is a MATH answer
    tulu-rewards serve --port 5000                          # labels name their verifier (see below)
    python -m openrlhf.cli.train_ppo_ray ... --reward.remote_url http://HOST:5000/get_reward \
        --data.label_key ground_truth

OpenRLHF POSTs JSON `{"query": [...], "prompts": [...], "labels": [...]}`: each query is the prompt and the
response decoded together, each prompt the prompt text, each label the row's `--data.label_key` value (`--label_key` before 0.10.2). The server
answers `{"rewards": [...], "scores": [...], "extra_logs": {...}}` (its `serve_rm.py` format): `rewards` and
`scores` are our scores in [0, 1]; `extra_logs` holds per-row 0/1 flags `correct`, `unparseable` and `error`.

The response is the query after its prompt (or the whole query when the prompt is not found in it), with
trailing end-of-turn markers (`--end-markers`) removed, since OpenRLHF decodes with special tokens. With
`--verifier`, every label is the ground truth; without it, each label is an object (or its JSON text)
`{"dataset": <verifier>, "ground_truth": ...}`, as in Tülu 3's RLVR rows.

A request that is not of that form gets a 4xx with a one-line JSON `{"error": ...}` and the server goes on;
a row whose ground truth does not parse is scored 0 with `error` 1 in `extra_logs`, as everywhere in
tulu_rewards. `GET /health` answers 200. `reward_func(queries, prompts, labels)` is the same scoring for
OpenRLHF's Python-file reward function.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tulu_rewards.errors import CLIError, VerifierError
from tulu_rewards.verifiers import Mode, canonical_verifier, verify_batch

# End-of-turn markers of common chat templates (Llama 3, Qwen/ChatML, Tülu, Gemma, Phi, Mistral).
DEFAULT_END_MARKERS: tuple[str, ...] = (
    "<|eot_id|>",
    "<|end_of_text|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<end_of_turn>",
    "<eos>",
    "<|end|>",
    "</s>",
)
REWARD_PATHS = ("/get_reward", "/")


class RequestError(ValueError):
    """A request that is not OpenRLHF's format: answered with a 4xx and the message."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Scorer:
    """How requests are scored: the verifier for every label (None: labels name theirs) and its options."""

    verifier: str | None = None
    mode: Mode = "strict"
    partial: bool = False
    end_markers: tuple[str, ...] = DEFAULT_END_MARKERS
    timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if self.verifier is not None:
            object.__setattr__(self, "verifier", canonical_verifier(self.verifier))

    def response(self, query: str, prompt: str | None) -> str:
        """The response in a query: after the prompt, without trailing end-of-turn markers."""
        if prompt:
            at = query.find(prompt)
            if at >= 0:
                query = query[at + len(prompt) :]
        stripped = True
        while stripped:
            stripped = False
            query = query.rstrip()
            for marker in self.end_markers:
                if marker and query.endswith(marker):
                    query = query[: -len(marker)]
                    stripped = True
        return query

    def label(self, label: Any, row: int) -> tuple[str, Any]:
        """(verifier, ground truth) of a label."""
        if self.verifier is not None:
            return self.verifier, label
        record = label
        if isinstance(label, str):
            try:
                record = json.loads(label)
            except json.JSONDecodeError:
                record = None
        if not isinstance(record, dict) or "ground_truth" not in record:
            raise RequestError(
                f"labels[{row}]: expected an object with 'dataset' and 'ground_truth' (the server was started "
                "without --verifier)"
            )
        name = record.get("dataset", record.get("verifier"))
        if not isinstance(name, str):
            raise RequestError(f"labels[{row}]: no verifier name in 'dataset'")
        return name, record["ground_truth"]

    def score(
        self, queries: Sequence[str], prompts: Sequence[str | None], labels: Sequence[Any]
    ) -> dict[str, Any]:
        """OpenRLHF's reply for one request's rows."""
        pairs = [self.label(label, i) for i, label in enumerate(labels)]
        try:
            verdicts = verify_batch(
                [verifier for verifier, _ in pairs],
                [self.response(q, p) for q, p in zip(queries, prompts, strict=True)],
                [truth for _, truth in pairs],
                list(prompts),
                mode=self.mode,
                partial=self.partial,
                timeout_s=self.timeout_s,
            )
        except VerifierError as err:  # an unknown verifier name
            where = f"labels[{err.row}]: " if err.row is not None and self.verifier is None else ""
            raise RequestError(f"{where}{err.message}") from None
        scores = [v.score for v in verdicts]
        return {
            "rewards": scores,
            "scores": scores,
            "extra_logs": {
                status: [float(v.status == status) for v in verdicts]
                for status in ("correct", "unparseable", "error")
            },
        }

    def score_request(self, payload: Any) -> dict[str, Any]:
        """Check a decoded request body (`query`, `prompts`, `labels`) and score it."""
        if not isinstance(payload, dict):
            raise RequestError(
                f"expected a JSON object with query, prompts and labels, got {type(payload).__name__}"
            )
        queries = _text_list(payload, "query")
        n = len(queries)
        prompts = payload.get("prompts")
        prompts = [None] * n if prompts is None else _text_list(payload, "prompts", n, optional=True)
        labels = payload.get("labels")
        if labels is None:
            raise RequestError(
                "labels: missing (start OpenRLHF with --data.label_key naming the ground-truth column)"
            )
        if not isinstance(labels, list) or len(labels) != n:
            raise RequestError(f"labels: expected a list of {n} ground truths, one per query")
        return self.score(queries, prompts, labels)


def _text_list(payload: dict, key: str, n: int | None = None, optional: bool = False) -> list[Any]:
    values = payload.get(key)
    if not isinstance(values, list):
        raise RequestError(f"{key}: expected a list of strings, got {type(values).__name__}")
    if n is not None and len(values) != n:
        raise RequestError(f"{key}: {len(values)} items for {n} queries")
    for i, value in enumerate(values):
        if not (isinstance(value, str) or (optional and value is None)):
            raise RequestError(f"{key}[{i}]: expected a string, got {type(value).__name__}")
    return values


def reward_func(queries: list[str], prompts: list[str], labels: list[Any], **kwargs: Any) -> dict[str, Any]:
    """OpenRLHF's Python-file reward function (`--remote_rm_url /path/to/openrlhf.py`); labels name their
    verifier as for `serve` without `--verifier`."""
    return Scorer().score(queries, prompts, labels)


# --- the HTTP server ------------------------------------------------------------------------------------


class RewardServer(ThreadingHTTPServer):
    """A thread per connection; verification itself runs in Rust without the GIL, on the rayon pool."""

    daemon_threads = True
    request_queue_size = 256  # many trainer workers connect at once
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], scorer: Scorer, max_request_bytes: int = 64 << 20) -> None:
        super().__init__(address, _Handler)
        self.scorer = scorer
        self.max_request_bytes = max_request_bytes

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/get_reward"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a trainer worker may reuse its connection
    timeout = 120  # seconds a connection may stall (a client that sends less than its Content-Length)
    # A reply goes out in one write (buffered, flushed after each request), without Nagle's algorithm: a body
    # sent apart from its headers would otherwise wait for the client's delayed ACK (~40 ms a request on Linux).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: RewardServer

    def do_POST(self) -> None:
        try:
            if self.path.split("?")[0] not in REWARD_PATHS:
                raise RequestError(f"no such endpoint {self.path}; POST to /get_reward", HTTPStatus.NOT_FOUND)
            payload = self._read_json()
            self._reply(HTTPStatus.OK, self.server.scorer.score_request(payload))
        except RequestError as err:
            self._reply(err.status, {"error": str(err)}, close=True)
        except Exception as err:  # our bug: the request fails, the server goes on
            self.log_error("internal error: %r", err)
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {err!r}"}, close=True)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/health":
            self._reply(HTTPStatus.OK, {"status": "ok", "verifier": self.server.scorer.verifier})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"}, close=True)

    def _read_json(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError("Content-Length is required", HTTPStatus.LENGTH_REQUIRED)
        try:
            size = int(length)
        except ValueError:
            raise RequestError(f"Content-Length {length!r} is not a number") from None
        if size < 0 or size > self.server.max_request_bytes:
            raise RequestError(
                f"request body of {size} bytes exceeds the limit of {self.server.max_request_bytes}",
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            )
        try:
            body = self.rfile.read(size)
        except TimeoutError:
            raise RequestError("timed out reading the request body", HTTPStatus.REQUEST_TIMEOUT) from None
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RequestError(f"request body is not JSON ({err})") from None

    def _reply(self, status: HTTPStatus, body: dict[str, Any], close: bool = False) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:  # after an error the rest of the request (an unread body) cannot be trusted
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (a request line or headers that do not parse, an unsupported method) as
        the same one-line JSON as ours, not its HTML page."""
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        self.log_error("code %d, message %s", code, message)
        if self.request_version == "HTTP/0.9":  # a request line that did not parse: answer with a status line
            self.request_version = self.protocol_version
        self._reply(status, {"error": message or status.phrase}, close=True)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not (isinstance(code, int) and code < 400):  # errors only: a trainer sends thousands of requests
            super().log_request(code, size)


def configure_serve_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=5000, help="port (0: any free port, printed at start)")
    parser.add_argument("--verifier", help="verifier of every label (default: labels name theirs)")
    parser.add_argument("--mode", default="strict", choices=["strict", "loose", "flex"])
    parser.add_argument("--partial", action="store_true", help="IFEval: score the fraction of constraints")
    parser.add_argument(
        "--end-markers",
        default=",".join(DEFAULT_END_MARKERS),
        help="comma-separated end-of-turn markers removed from the end of responses ('' for none)",
    )
    parser.add_argument("--timeout-s", type=float, default=2.0, help="time limit of one row")
    parser.add_argument("--max-request-mb", type=float, default=64.0, help="largest request body accepted")


def make_server(args: argparse.Namespace) -> RewardServer:
    try:
        scorer = Scorer(
            verifier=args.verifier,
            mode=args.mode,
            partial=args.partial,
            end_markers=tuple(m for m in args.end_markers.split(",") if m),
            timeout_s=args.timeout_s,
        )
    except VerifierError as err:
        raise CLIError(f"--verifier: {err.message}") from None
    try:
        return RewardServer((args.host, args.port), scorer, int(args.max_request_mb * (1 << 20)))
    except OSError as err:
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {err.strerror or err}") from None


def run_serve(args: argparse.Namespace) -> int:
    server = make_server(args)
    verifier = server.scorer.verifier or "named by each label"
    print(f"tulu-rewards: serving {server.url} (verifier: {verifier})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def serve_in_thread(scorer: Scorer | None = None, host: str = "127.0.0.1", port: int = 0) -> RewardServer:
    """Start a server on a background thread (tests, notebooks); stop it with `.shutdown()`."""
    server = RewardServer((host, port), scorer or Scorer())
    threading.Thread(target=server.serve_forever, name="tulu-rewards-server", daemon=True).start()
    return server
