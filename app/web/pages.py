"""The coder review pages.

Each page is a shell: layout, labels and the CSRF token. Its script loads the data from the
review API (`/api/review/...`), so the pages hold no patient text of their own and need no
database. Who is signed in comes from `page_viewer`, which reads `request.state`; the session
layer sets `request.state.user` and `request.state.csrf_token` (or overrides the dependency).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_URL = "/review/static"
API_URL = "/api/review"
# What the meta tag carries until the session layer provides a token: never a valid token.
NO_CSRF_TOKEN = ""
# The login page shows only these messages: a reason in the URL never becomes page text.
LOGIN_ERRORS = {
    "invalid": "That token was not accepted. Check it and try again.",
    "expired": "Your session has ended. Sign in again.",
    "forbidden": "This token may not review encounters.",
    "too_many": "Too many tokens were refused from here. Wait a minute and try again.",
}


@dataclass(frozen=True)
class PageViewer:
    """The signed-in coder as the pages show them, and the token their scripts send back."""

    user_name: str | None
    csrf_token: str


def page_viewer(request: Request) -> PageViewer:
    """Read the viewer from `request.state` (set by the session layer, absent before it)."""
    user: Any = getattr(request.state, "user", None)
    name = user if isinstance(user, str) or user is None else getattr(user, "name", str(user))
    token = getattr(request.state, "csrf_token", None)
    return PageViewer(user_name=name, csrf_token=token if isinstance(token, str) else NO_CSRF_TOKEN)


ViewerDep = Annotated[PageViewer, Depends(page_viewer)]


def page_router(templates_dir: Path | None = None) -> APIRouter:
    """The pages under /review and their static files under /review/static."""
    templates = Jinja2Templates(directory=templates_dir or TEMPLATES_DIR)
    router = APIRouter(prefix="/review", tags=["review pages"], include_in_schema=False)

    def render(request: Request, viewer: PageViewer, name: str, **context: Any) -> Response:
        if viewer.user_name is None and name != "login.html":
            # Not signed in: to the login page, which brings the coder back here after.
            back = quote(request.url.path, safe="/")
            return RedirectResponse(f"/review/login?next={back}", status_code=303)
        return templates.TemplateResponse(
            request,
            name,
            {
                "viewer": viewer,
                "static_url": STATIC_URL,
                "api_url": API_URL,
                **context,
            },
        )

    @router.get("", response_class=HTMLResponse)
    def queue_page(request: Request, viewer: ViewerDep) -> Response:
        return render(request, viewer, "queue.html", page="queue")

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, viewer: ViewerDep, error: str | None = None) -> Response:
        message = LOGIN_ERRORS.get(error, LOGIN_ERRORS["invalid"]) if error else None
        return render(request, viewer, "login.html", page="login", error=message)

    @router.get("/encounters/{encounter_id}", response_class=HTMLResponse)
    def encounter_page(request: Request, viewer: ViewerDep, encounter_id: int) -> Response:
        return render(
            request, viewer, "encounter.html", page="encounter", encounter_id=encounter_id
        )

    @router.get("/analytics", response_class=HTMLResponse)
    def analytics_page(request: Request, viewer: ViewerDep) -> Response:
        return render(request, viewer, "analytics.html", page="analytics")

    # A mount does not take the router's prefix: it is placed at its full path.
    router.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="review-static")
    return router
