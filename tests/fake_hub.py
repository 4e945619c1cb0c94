"""Just enough of the Hugging Face Hub's HTTP API, on a loopback server, for a real push."""

from __future__ import annotations

import json
import re

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


class FakeHub:
    """Just enough of the Hub's HTTP API for create_repo + upload_folder of small files."""

    def __init__(self, server: HTTPServer):
        self.server = server
        self.commits: list[list[dict]] = []
        self.created: list[dict] = []  # the bodies of create-repo requests, with their repo_id
        self.auth: set[str] = set()
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.auth.add(request.headers.get("Authorization", ""))
        path = request.path
        if path == "/api/repos/create":
            body = json.loads(request.data)
            repo_id = f"{body['organization']}/{body['name']}" if body.get("organization") else body["name"]
            self.created.append({**body, "repo_id": repo_id})
            return self.json({"url": self.server.url_for(f"/{repo_id}"), "name": repo_id})
        if path == "/api/validate-yaml":
            return self.json({"errors": [], "warnings": []})
        if path.endswith("/preupload/main"):
            files = json.loads(request.data)["files"]
            return self.json(
                {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            )
        if path.endswith("/commit/main"):
            self.commits.append([json.loads(line) for line in request.data.splitlines()])
            repo_id = re.sub(r"^/api/models/|/commit/main$", "", path)
            return self.json({"commitUrl": self.server.url_for(f"/{repo_id}/commit/1"), "commitOid": "1" * 40})
        return self.json({"error": "not found"}, 404)

    @staticmethod
    def json(data: dict, status: int = 200) -> Response:
        return Response(json.dumps(data), status=status, content_type="application/json")
