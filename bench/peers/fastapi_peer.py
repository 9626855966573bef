"""What a user would pick instead: FastAPI + pydantic doing the work of our single-project GET.

Not part of the product. Verifies an HS256 JWT with python-jose (``kid`` pinned, ``iss``,
``aud``, ``exp``), re-reads the user from a dict (as Trellis re-reads the user on every
request), reads the project's JSON from a dict cache, validates it into a pydantic model and
returns the same envelope JSON with the same ``ETag`` and ``Cache-Control``.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Response
from jose import JWTError, jwt
from pydantic import BaseModel

FIXTURE = json.loads(Path(os.environ["BENCH_FIXTURE"]).read_text())
SECRET: str = FIXTURE["peer_secret"]
KID: str = FIXTURE["peer_kid"]
ISSUER: str = FIXTURE["peer_issuer"]
AUDIENCE: str = FIXTURE["peer_audience"]
USERS: dict[str, dict[str, Any]] = {FIXTURE["peer_user_id"]: {"active": True}}
CACHE: dict[str, str] = {f"project:{FIXTURE['project_id']}": json.dumps(json.loads(FIXTURE["project_body"])["data"])}


class SiteOut(BaseModel):
    place: str
    lat: float
    lon: float


class ProjectOut(BaseModel):
    id: str
    owner_id: str
    title: str
    description: str
    visibility: Literal["personal", "public"]
    finish_date: date | None
    site: SiteOut | None
    progress: float
    version: int
    created_at: datetime
    updated_at: datetime


class Envelope(BaseModel):
    data: ProjectOut
    status: Literal["success"] = "success"
    meta: dict[str, Any] = {}


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


def principal(authorization: str | None) -> str:
    if authorization is None or not authorization.startswith("Bearer "):
        raise HTTPException(401)
    token = authorization[7:]
    try:
        if jwt.get_unverified_header(token).get("kid") != KID:
            raise HTTPException(401)
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    except JWTError as error:
        raise HTTPException(401) from error
    user = USERS.get(claims.get("sub", ""))
    if user is None or not user["active"]:
        raise HTTPException(401)
    return str(claims["sub"])


@app.get("/api/v1/projects/{project_id}", response_model=Envelope)
async def get_project(
    project_id: str, response: Response, authorization: Annotated[str | None, Header()] = None
) -> Envelope:
    principal(authorization)
    raw = CACHE.get(f"project:{project_id}")
    if raw is None:
        raise HTTPException(404)
    project = ProjectOut.model_validate_json(raw)
    response.headers["ETag"] = f'"v{project.version}"'
    response.headers["Cache-Control"] = "private, no-cache"
    return Envelope(data=project)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_config=None, access_log=False)
