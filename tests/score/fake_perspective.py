"""A local stand-in for the Perspective API comments:analyze endpoint, for xgd score's tests.

Listens on 127.0.0.1 (a free port) only. Answers are deterministic functions of the text: the
TOXICITY score is a 53-bit fraction from SHA-256(text), so two runs give byte-identical files.
Faults are injected on a text's first attempts, chosen by the same hash (fault_rate of the texts):
429, 500 twice, 503, an answer slower than the client's timeout, a 200 with a malformed body, and a
connection reset. Texts that are blank or contain "EMPTY!" get 400 COMMENT_EMPTY (every time), and
"TOOLONG!" gets 400 COMMENT_TOO_LONG, "ALWAYS503!" gets 503 every time. A wrong key gets 403 with a message that echoes the key (so a
test can check that the client never repeats it). Every request is logged for the tests.
"""
import hashlib
import io
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

FAULTS = ["429", "500x2", "503", "slow", "malformed", "reset"]


def text_hash(text):
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


def score_of(text):
    return (text_hash(text) >> 11 & ((1 << 53) - 1)) / float(1 << 53)


def fault_of(text, fault_rate):
    """The fault injected on this text's first attempt(s), or None."""
    h = text_hash(text)
    if (h >> 100) % 1000 >= fault_rate * 1000:
        return None
    return FAULTS[(h >> 80) % len(FAULTS)]


def response_for(req):
    """The answer the fake gives to a well-formed request (what the client must store)."""
    text = req["comment"]["text"]
    attrs = {}
    for i, name in enumerate(req["requestedAttributes"]):
        v = score_of(text + "/" + name) if i else score_of(text)
        attrs[name] = {"spanScores": [{"begin": 0, "end": len(text), "score": {"value": v, "type": "PROBABILITY"}}],
                       "summaryScore": {"value": v, "type": "PROBABILITY"}}
    return {"attributeScores": attrs, "languages": req["languages"], "detectedLanguages": req["languages"]}


class Fake:
    def __init__(self, key, fault_rate=0.3, slow_s=1.2, latency_s=0.0):
        self.key, self.fault_rate, self.slow_s, self.latency_s = key, fault_rate, slow_s, latency_s
        self.always503 = True   # False: "ALWAYS503!" texts are answered like any other
        self.lock = threading.Lock()
        self.log = []          # (time, text or None, outcome, request dict or None, headers dict, path)
        self.attempts = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body, extra=None):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (extra or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def record(self, text, outcome, req):
                with fake.lock:
                    fake.log.append((time.monotonic(), text, outcome, req, dict(self.headers), self.path))

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                q = parse_qs(urlparse(self.path).query)
                key = self.headers.get("x-goog-api-key") or (q.get("key") or [None])[0]
                if key != fake.key:
                    self.record(None, "403", None)
                    return self.reply(403, {"error": {"code": 403, "status": "PERMISSION_DENIED",
                                                      "message": f"The API key {key} is not valid for this project."}})
                try:
                    req = json.loads(raw)
                    text = req["comment"]["text"]
                except Exception:
                    self.record(None, "bad-request", None)
                    return self.reply(400, {"error": {"code": 400, "message": "Invalid JSON payload"}})
                with fake.lock:
                    attempt = fake.attempts.get(text, 0)
                    fake.attempts[text] = attempt + 1
                if fake.latency_s:
                    time.sleep(fake.latency_s)
                if not text.strip() or "EMPTY!" in text:
                    self.record(text, "400", req)
                    return self.reply(400, {"error": {"code": 400, "message": "Comment must be non-empty.",
                                                      "status": "INVALID_ARGUMENT", "details": [
                                                          {"@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
                                                           "errorType": "COMMENT_EMPTY"}]}})
                if "TOOLONG!" in text:
                    self.record(text, "400", req)
                    return self.reply(400, {"error": {"code": 400, "message": "Comment too long.",
                                                      "details": [{"errorType": "COMMENT_TOO_LONG"}]}})
                if "ALWAYS503!" in text and fake.always503:
                    self.record(text, "503", req)
                    return self.reply(503, {"error": {"code": 503, "message": "unavailable"}})
                fault = fault_of(text, fake.fault_rate)
                if fault and attempt < (2 if fault == "500x2" else 1):
                    self.record(text, fault, req)
                    if fault == "429":
                        return self.reply(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message":
                                                          "Quota exceeded for quota metric 'Analysis requests (AnalyzeComment)'"}})
                    if fault in ("500x2", "503"):
                        return self.reply(int(fault[:3]), {"error": {"code": int(fault[:3]), "message": "backend error"}})
                    if fault == "slow":
                        time.sleep(fake.slow_s)
                        return self.reply(200, response_for(req))
                    if fault == "malformed":
                        return self.reply(200, b'{"attributeScores": {"TOXICITY": {"summaryScore": {"val')
                    if fault == "reset":
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.connection.close()
                        self.wfile = io.BytesIO()
                        self.close_connection = True
                        return
                self.record(text, "ok", req)
                return self.reply(200, response_for(req))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1alpha1/comments:analyze"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset_log(self):
        with self.lock:
            self.log = []
            self.attempts = {}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
