"""The web app: HTML pages, a JSON API for everything they show, and static files.

Pages are thin shells; their scripts read the JSON API and poll it, so a
running search's pages follow it without a reload. Plotly's JavaScript is
served from the ``plotly`` Python package: nothing comes from a CDN.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import plotly
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from lce_nas.dashboard import views
from lce_nas.dashboard.answers import Answers
from lce_nas.dashboard.data import DashboardData, StudyNotFound
from lce_nas.dashboard.detail import EXPORT_FILES, export_folder, trial_detail
from starlette.exceptions import HTTPException as StarletteHTTPException

from lce_nas import __version__
from lce_nas.errors import UserError

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
#: Seconds between polls of a page's data (pages take ``?refresh=N``; 0 stops polling).
DEFAULT_REFRESH_S = 5
# ``?study=a&study=b`` on the compare page and API.
StudyNames = Annotated[list[str] | None, Query()]
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}


def create_app(
    url: str, exports: Path | None = None, refresh_s: float = DEFAULT_REFRESH_S
) -> FastAPI:
    """The dashboard for the database at ``url`` (opened read-only).

    ``exports`` is the folder ``lce-nas export -o`` wrote to, for downloads.

    Example:
        >>> app = create_app("sqlite:///lce-nas.db")  # doctest: +SKIP
        >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8080)  # doctest: +SKIP
    """
    data = DashboardData(url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        data.close()

    app = FastAPI(
        lifespan=lifespan,
        title="lce-nas dashboard",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.data = data
    app.state.exports = exports
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(
        version=__version__, db_url=data.display_url, refresh_s=refresh_s, quote=_path_part
    )

    def page(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, template, context, status_code=code)

    studies = data.studies
    answers = Answers()

    def find(name: str) -> Any:
        try:
            return studies.study(name)
        except StudyNotFound:
            raise HTTPException(404, f"no study named {name!r} in {data.display_url}") from None

    def find_trial(name: str, number: int) -> tuple[Any, Any]:
        study = find(name)
        try:
            return study, studies.trial(study, number)
        except StudyNotFound:
            raise HTTPException(404, f"study {name!r} has no trial {number}") from None

    # -- errors: a page or JSON, never a stack trace ------------------------------

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "not found"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"nothing at {request.url.path}"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": detail}, status_code=exc.status_code)
        return page(request, "error.html", exc.status_code, status=exc.status_code, message=detail)

    @app.exception_handler(RequestValidationError)
    async def bad_path(request: Request, exc: RequestValidationError) -> Response:
        # e.g. /studies/s/trials/abc: no such trial, not a form to correct.
        return await http_error(request, StarletteHTTPException(404))

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=503)
        return page(request, "error.html", 503, status=503, message=str(exc))

    # -- JSON API -----------------------------------------------------------------

    @app.get("/api/studies")
    def api_studies(request: Request) -> Response:
        """Every study with space, device, trial counts, front size, hypervolume."""
        searches = data.measurements.searches()
        found = studies.studies()
        marker = "|".join(studies.marker(s) for s in found) + repr(
            sorted(
                (name, row.get("status"), str(row.get("updated_at")))
                for name, row in searches.items()
            )
        )
        return answers.reply(
            request,
            ("studies",),
            marker,
            lambda: [views.study_summary(s, studies.front(s), searches.get(s.name)) for s in found],
        )

    @app.get("/api/studies/{name}")
    def api_study(request: Request, name: str) -> Response:
        """One study's summary, lce-nas metadata and presets."""
        study = find(name)
        search = data.measurements.searches().get(name)
        marker = studies.marker(study) + repr((search or {}).get("status"))
        return answers.reply(
            request,
            ("study", name),
            marker,
            lambda: views.study_detail(study, studies.front(study), search),
        )

    def front_answer(request: Request, name: str, route: str, build: Any) -> Response:
        study = find(name)
        marker = studies.marker(study)
        return answers.reply(request, (route, name), marker, lambda: build(studies.front(study)))

    @app.get("/api/studies/{name}/trials")
    def api_trials(request: Request, name: str) -> Response:
        """All trials of a study as flat rows, by number."""
        return front_answer(request, name, "trials", lambda f: f.rows(every_trial=True))

    @app.get("/api/studies/{name}/front")
    def api_front(request: Request, name: str) -> Response:
        """The feasible Pareto front (fastest first), its hypervolume and reference point."""
        return front_answer(request, name, "front", lambda f: f.to_json())

    @app.get("/api/studies/{name}/hypervolume")
    def api_hypervolume(request: Request, name: str) -> Response:
        """The hypervolume after each completed trial, in the order trials completed."""
        return front_answer(request, name, "hypervolume", lambda f: f.history)

    @app.get("/api/studies/{name}/trials/{number}")
    def api_trial(request: Request, name: str, number: int) -> Response:
        """One trial with its config, measurement (samples, breakdown, per-op profile), exports."""
        study, record = find_trial(name, number)
        return answers.reply(
            request,
            ("trial", name, number),
            studies.marker(study),
            lambda: trial_detail(data, study, studies.front(study), record, app.state.exports),
        )

    @app.get("/api/compare")
    def api_compare(request: Request, study: StudyNames = None) -> Response:
        """Fronts of several studies (``?study=a&study=b``; none: every study)."""
        chosen = [find(name) for name in study] if study else studies.studies()
        marker = "|".join(f"{s.name}:{studies.marker(s)}" for s in chosen)

        def build() -> list[dict[str, Any]]:
            fronts = []
            for found in chosen:
                front = studies.front(found)
                shown = front.to_json()
                shown["summary"] = views.study_summary(found, front, None)
                fronts.append(shown)
            return fronts

        return answers.reply(request, ("compare", *(s.name for s in chosen)), marker, build)

    # -- pages --------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def studies_page(request: Request) -> HTMLResponse:
        return page(request, "studies.html", title="Studies")

    @app.get("/compare", response_class=HTMLResponse)
    def compare_page(request: Request, study: StudyNames = None) -> HTMLResponse:
        study = study or []
        for name in study:
            find(name)
        return page(request, "compare.html", title="Compare", selected=study)

    @app.get("/studies/{name}", response_class=HTMLResponse)
    def study_page(request: Request, name: str) -> HTMLResponse:
        find(name)
        return page(request, "study.html", title=name, study=name)

    @app.get("/studies/{name}/trials/{number}", response_class=HTMLResponse)
    def trial_page(request: Request, name: str, number: int) -> HTMLResponse:
        find_trial(name, number)
        return page(request, "trial.html", title=f"{name} #{number}", study=name, number=number)

    @app.get("/studies/{name}/trials/{number}/files/{filename}")
    def trial_file(name: str, number: int, filename: str) -> FileResponse:
        """A file ``lce-nas export`` wrote for this trial (model.tflite, model_card.json)."""
        study, record = find_trial(name, number)
        if filename not in EXPORT_FILES:
            raise HTTPException(404, f"no file {filename!r} for trial {number}")
        folder = export_folder(app.state.exports, study.name, number, record.fingerprint)
        if folder is None or not (folder / filename).is_file():
            raise HTTPException(404, f"trial {number} of {name!r} was not exported")
        return FileResponse(folder / filename, filename=f"{number}-{filename}")

    # -- static files -------------------------------------------------------------

    @app.get("/static/plotly.min.js")
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    @app.get("/static/{filename}")
    def static_file(filename: str) -> FileResponse:
        path = STATIC_DIR / filename
        kind = _STATIC_TYPES.get(path.suffix)
        if kind is None or "/" in filename or not path.is_file():
            raise HTTPException(404, f"no static file {filename!r}")
        return FileResponse(path, media_type=kind)

    return app


def _path_part(value: Any) -> str:
    """A value quoted for one path segment of a URL."""
    return quote(str(value), safe="")
