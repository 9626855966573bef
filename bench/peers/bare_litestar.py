"""The framework ceiling: a bare Litestar app returning the same bytes for the same route shapes.

Not part of the product. No authentication, storage or middleware: each handler returns the
response body that Trellis answered during the bench's setup, precomputed as bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import uvicorn
from litestar import Litestar, Response, get, post

FIXTURE = json.loads(Path(os.environ["BENCH_FIXTURE"]).read_text())
PROJECT_BODY = FIXTURE["project_body"].encode()
TASKS_BODY = FIXTURE["tasks_body"].encode()
CREATED_BODY = FIXTURE["created_body"].encode()
JSON = "application/json"


@get("/api/v1/projects/{project_id:str}", sync_to_thread=False)
def get_project(project_id: str) -> Response[bytes]:
    return Response(PROJECT_BODY, media_type=JSON, headers={"ETag": '"v1"', "Cache-Control": "private, no-cache"})


@get("/api/v1/projects/{project_id:str}/tasks", sync_to_thread=False)
def list_tasks(project_id: str) -> Response[bytes]:
    return Response(TASKS_BODY, media_type=JSON)


@post("/api/v1/projects/{project_id:str}/tasks", sync_to_thread=False)
def create_task(project_id: str) -> Response[bytes]:
    return Response(CREATED_BODY, media_type=JSON, status_code=201)


app = Litestar([get_project, list_tasks, create_task], openapi_config=None)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_config=None, access_log=False)
