"""NUL characters are refused with a 422 problem wherever they are in a request."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from orderflow_runtime.problems import install_problem_handlers
from pydantic import BaseModel


class Note(BaseModel):
    text: str


def _client() -> TestClient:
    api = FastAPI()
    install_problem_handlers(api)

    @api.get("/notes/{name}")
    def read(name: str, q: str = "") -> dict[str, str]:
        return {"name": name, "q": q}

    @api.post("/notes")
    def write(note: Note) -> dict[str, str]:
        return {"text": note.text}

    return TestClient(api)


def test_nul_in_query_path_or_json_body_is_a_422_problem() -> None:
    client = _client()
    refused = [
        client.get("/notes/a", params={"q": "x\x00y"}),
        client.get("/notes/a%00b"),
        client.post("/notes", content=b'{"text": "x\\u0000y"}'),
        client.post("/notes", content=b'{"text": "x\x00y"}'),
    ]
    for response in refused:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["type"].endswith("/invalid-request")
        assert "NUL" in body["detail"]


def test_ordinary_requests_pass_untouched() -> None:
    client = _client()
    assert client.get("/notes/a", params={"q": "100%"}).json() == {"name": "a", "q": "100%"}
    assert client.post("/notes", json={"text": "50%00 off \\ u0000"}).json() == {
        "text": "50%00 off \\ u0000"
    }
    big = "x" * 2_000_000
    assert client.post("/notes", json={"text": big}).json()["text"] == big
