"""Test helpers for the benchmark suites: a scripted lm-eval model, a tiny Hugging Face model directory, and a
stub OpenAI-compatible judge server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import DEMO_DATA, TINY_MODEL

REPO = Path(__file__).resolve().parents[1]
EVAL_DATA = REPO / "tests" / "data" / "eval"


def scripted_lm(respond: Callable[[str], str], loglikelihood: Callable[[str, str], float] | None = None):
    """An lm-eval model that answers each prompt with `respond(prompt)` and scores continuations with
    `loglikelihood(context, continuation)` (default: shorter is likelier): what both harness paths of a parity
    test see as the same generations."""
    from lm_eval.api.model import LM

    class ScriptedLM(LM):
        def generate_until(self, requests, disable_tqdm: bool = False):
            return [respond(request.args[0]) for request in requests]

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            score = loglikelihood or (lambda context, continuation: -float(len(continuation)))
            return [(score(*request.args), False) for request in requests]

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

        def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
            text = "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in chat_history)
            return text + ("<|assistant|>\n" if add_generation_prompt else "")

        @property
        def tokenizer_name(self) -> str:
            return "scripted"

    return ScriptedLM()


def build_tiny_model_dir(dest: Path) -> Path:
    """A tiny untrained Llama with the demo tokenizer and the Tülu chat template, saved as a HF directory."""
    from tulu_lightning.config import TinyModelConfig
    from tulu_lightning.models import build_tiny_model, train_tiny_tokenizer

    texts = [json.loads(line)["messages"][0]["content"] for line in (DEMO_DATA / "sft_train.jsonl").open()][
        :200
    ]
    tokenizer = train_tiny_tokenizer(texts, TINY_MODEL["tiny"]["vocab_size"])
    model = build_tiny_model(TinyModelConfig(**TINY_MODEL["tiny"]), tokenizer)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def prefer_shorter(prompt: str) -> str:
    """A stub judge's verdict on a pairwise prompt: the model whose output is shorter (m or M)."""
    first = prompt.split("### Model m\n", 1)[1].split("\n\n### Model M\n", 1)
    second = first[1].split("\n\n## Task", 1)[0]
    return "m" if len(first[0]) <= len(second) else "M"


class StubJudge:
    """An OpenAI-compatible `/v1/chat/completions` endpoint on 127.0.0.1 answering with `answer(prompt)`.

    It serves at most `max_requests` requests and then stops by itself (a bounded test server); `close()` stops
    it earlier. `prompts` records what it was asked."""

    def __init__(self, answer: Callable[[str], str], max_requests: int = 200) -> None:
        self.answer, self.max_requests = answer, max_requests
        self.prompts: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                stub.prompts.append(prompt)
                payload = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": stub.answer(prompt)}}]}
                )
                self.send_response(404 if self.path != "/v1/chat/completions" else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload.encode())
                if len(stub.prompts) >= stub.max_requests:
                    threading.Thread(target=self.server.shutdown, daemon=True).start()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> StubJudge:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
