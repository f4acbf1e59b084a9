"""Server-rendered web pages (Jinja2): catalogue (listings and live services), model, order and
report verification.

Amounts, times and verdicts are written by :mod:`marketplace_api.page_filters` (ETH with the wei
on hover, UTC dates with the Unix seconds on hover, never a green "verified" over a skipped check
or a simulated TEE)."""

from __future__ import annotations

from pathlib import Path as FsPath

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from enclava.errors import EnclavaError
from enclava.report import verify_order_report
from marketplace_api import page_filters
from marketplace_api import queries as q
from marketplace_api import queries_services as qs
from marketplace_api.bounds import MAX_PAGE, OnChainId
from marketplace_api.deps import db_session, services, session_token
from marketplace_api.errors import NotFound

__all__ = ["router", "templates"]

templates = Jinja2Templates(directory=str(FsPath(__file__).parent / "templates"))
page_filters.install(templates.env)
router = APIRouter(include_in_schema=False)


def _viewer(request: Request) -> str | None:
    """The signed-in wallet of this browser (session cookie), or None: pages never require one."""
    token = session_token(request)
    if not token:
        return None
    try:
        return services(request).auth.address_of(token)
    except EnclavaError:
        return None


def _error_page(request: Request, error: EnclavaError, status: int) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "error.html", {"error": error.to_dict()}, status_code=status
    )


@router.get("/", response_class=HTMLResponse)
def catalogue_page(
    request: Request,
    s: Session = Depends(db_session),
    q_: str = Query("", alias="q", max_length=200),
    page: int = Query(1, ge=1, le=MAX_PAGE),
) -> HTMLResponse:
    result = q.search_catalogue(s, q=q_, page=page, per_page=20)
    served = qs.list_services(s, live=True, per_page=20)
    return templates.TemplateResponse(
        request, "catalogue.html", {"result": result, "q": q_, "services": served}
    )


@router.get("/models/{resource_id}", response_class=HTMLResponse)
def model_page(
    request: Request, resource_id: OnChainId, s: Session = Depends(db_session)
) -> HTMLResponse:
    try:
        model = q.resource_detail(s, resource_id)
    except NotFound as exc:
        return _error_page(request, exc, 404)
    viewer = _viewer(request)
    is_owner = viewer is not None and viewer.lower() == str(model["owner"]).lower()
    return templates.TemplateResponse(request, "model.html", {"model": model, "is_owner": is_owner})


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(
    request: Request,
    order_id: str = Path(pattern=r"^0x[0-9a-fA-F]{64}$"),
    s: Session = Depends(db_session),
) -> HTMLResponse:
    try:
        order = q.order_view(q.order_row(s, order_id))
    except NotFound as exc:
        return _error_page(request, exc, 404)
    return templates.TemplateResponse(request, "order.html", {"order": order})


@router.get("/reports/{order_id}", response_class=HTMLResponse)
def report_page(
    request: Request, order_id: str = Path(pattern=r"^0x[0-9a-fA-F]{64}$")
) -> HTMLResponse:
    svc = services(request)
    try:
        checklist = verify_order_report(
            svc.chain.contracts, order_id, from_block=svc.chain.start_block
        )
    except EnclavaError as exc:
        return _error_page(request, exc, getattr(exc, "http_status", None) or 400)
    shown = checklist.to_dict()
    return templates.TemplateResponse(
        request,
        "report.html",
        {"checklist": shown, "verdict": page_filters.report_verdict(shown)},
    )
