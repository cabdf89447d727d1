"""Signing in and out of the review pages: POST /review/login, POST /review/logout.

The login page itself (GET /review/login) belongs to the page router (app/web/pages.py);
its form posts `token` and `csrf_token` (the login CSRF token of app/web_session.py).
Both answers are 303 redirects, as a browser's form post expects: to /review on success,
back to the login page with `?error=invalid|forbidden|expired` otherwise.
"""

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from app.auth import CSRF_HEADER, CsrfError, DbSession
from app.web_session import (
    LoginRefusedError,
    clear_session_cookie,
    form_fields,
    login_csrf_ok,
    session_of,
    set_session_cookie,
    sign_in,
    sign_out,
)

logger = logging.getLogger(__name__)

Form = Annotated[dict[str, str], Depends(form_fields)]
LOGIN_PAGE = "/review/login"
HOME = "/review"

router = APIRouter(prefix="/review", tags=["review session"])


def _back_to_login(reason: str) -> RedirectResponse:
    return RedirectResponse(f"{LOGIN_PAGE}?error={reason}", status_code=303)


@router.post(
    "/login",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "To /review, or back to the login page with ?error="}},
)
def login(request: Request, form: Form, session: DbSession) -> RedirectResponse:
    """Exchange a coder's token for a session cookie (form fields `token`, `csrf_token`)."""
    if not login_csrf_ok(request, form.get("csrf_token")):
        # No login cookie, or another one: the form is stale or was not ours.
        return _back_to_login("expired")
    try:
        session_id, signed_in = sign_in(session, request, form.get("token", ""))
    except LoginRefusedError as refused:
        logger.info("sign-in refused: %s", refused.reason)
        return _back_to_login(refused.reason)
    answer = RedirectResponse(HOME, status_code=303)
    set_session_cookie(answer, request, session_id)
    logger.info("%s signed in", signed_in.name)
    return answer


@router.post(
    "/logout",
    status_code=303,
    response_class=RedirectResponse,
    responses={
        303: {"description": "To the login page, the session ended"},
        403: {"description": "A session without its CSRF token"},
    },
)
def logout(request: Request, form: Form, session: DbSession) -> RedirectResponse:
    """End the browser's session (CSRF token as the form field `csrf_token` or the
    X-CSRF-Token header) and clear its cookie."""
    signed_in = session_of(session, request)
    if signed_in is not None:
        sent = request.headers.get(CSRF_HEADER) or form.get("csrf_token") or ""
        if not hmac.compare_digest(sent.encode(), signed_in.csrf_token.encode()):
            raise CsrfError("signing out needs the page's CSRF token")
        sign_out(session, request)
    answer = RedirectResponse(LOGIN_PAGE, status_code=303)
    clear_session_cookie(answer, request)
    return answer
