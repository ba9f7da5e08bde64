"""`/sso`: the AuthnRequest (HTTP-Redirect GET or HTTP-POST), checked, then carried to our own GET
(`?c=...`) where the portal session is readable; the user signs in if needed, the decision is
taken and recorded, and the signed Response is posted to Microsoft's ACS. ForceAuthn: a session
whose sign-in is older than the request ends and the user signs in again. IsPassive: no sign-in
page ever; without a session Microsoft gets a Responder/NoPassive Response. `/start`: the same
from the User Portal home (IdP-initiated, no InResponseTo)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from lockstep.directory.models import User, UserState
from lockstep.portal import sessions
from lockstep.portal.views.auth import AUTHN_AT
from lockstep.saml import continuation, decisions, endpoints, keys, requests
from lockstep.saml.models import DomainFederation
from lockstep.saml.no_passive import no_passive_response
from lockstep.saml.response import Audience, Subject, build_response, new_id, post_value
from lockstep.saml.views import autopost, federation_for, refusal, refused_request, see_other
from lockstep.saml.xml_input import RequestRefused

SESSION_INDEX = "saml_session_index"


@csrf_exempt  # Microsoft posts here cross-site; the request is checked by its own rules
@never_cache
def sso(request: HttpRequest, org: str, domain: str) -> HttpResponse:
    federation = federation_for(org, domain)
    if request.method == "GET" and "c" in request.GET:
        return _continue(request, federation, request.GET["c"])
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    kind = "redirect" if request.method == "GET" else "post"
    query_string = request.META.get("QUERY_STRING", "")
    try:
        fields = requests.received_fields(request.method, query_string, request.POST)
        message = requests.receive(
            federation, fields=fields, query_string=query_string if kind == "redirect" else None
        )
    except RequestRefused as refused:
        refused_request(request, federation, refused, kind)
        return refusal(request, refused.code, refused.words, status=400)
    token = continuation.dumps(org, federation.domain, message)
    return see_other(f"{request.path}?{urlencode({'c': token})}")


def _stale_user(request: HttpRequest) -> User | None:
    """The user of a session that ended because the account is no longer active (suspended)."""
    user_id = request.session.get(sessions.PORTAL_USER)
    if user_id is None:
        return None
    user = User.objects.select_related("organization").filter(pk=user_id).first()
    return user if user is not None and user.state != UserState.ACTIVE else None


def _continue(request: HttpRequest, federation: DomainFederation, token: str) -> HttpResponse:
    try:
        carried = continuation.loads(token, federation.directory.organization.slug, federation.domain)
    except RequestRefused as refused:
        return refusal(request, refused.code, refused.words, status=400)
    stale = _stale_user(request)
    user = sessions.current_user(request)
    if user is None and stale is not None:
        user = stale
    message = carried.message
    if user is not None and message.force_authn and not _signed_in_after(request, carried.received_at):
        sessions.sign_out(request)  # ForceAuthn: this session's sign-in does not count
        user = None
    if user is None:
        if message.is_passive:  # IsPassive: never a sign-in page; Microsoft gets NoPassive
            return _no_passive(request, federation, message)
        return redirect(f"{settings.PORTAL_LOGIN_PATH}?{urlencode({'next': request.get_full_path()})}")
    return answer(request, federation, user, message)


def _signed_in_after(request: HttpRequest, moment: float) -> bool:
    started = request.session.get(AUTHN_AT)
    return started is not None and float(started) > moment


def _no_passive(
    request: HttpRequest, federation: DomainFederation, message: requests.SamlMessage
) -> HttpResponse:
    acs = endpoints.acs_url(federation.directory)
    with transaction.atomic():
        try:
            requests.mark_answered(federation.directory.organization_id, message.request_id)
        except RequestRefused as refused:
            refused_request(request, federation, refused, message.binding)
            return refusal(request, refused.code, refused.words, status=400)
    xml = no_passive_response(
        issuer=federation.issuer_uri,
        destination=acs,
        in_response_to=message.request_id,
        key=keys.active_key(federation.directory.organization),
    )
    return autopost(request, acs, post_value(xml), message.relay_state)


def _subject(request: HttpRequest, user: User, upn: str) -> Subject:
    started = request.session.get(AUTHN_AT)
    authn_instant = dt.datetime.fromtimestamp(float(started), dt.UTC) if started else dt.datetime.now(dt.UTC)
    index = str(request.session.get(SESSION_INDEX) or new_id())
    request.session[SESSION_INDEX] = index
    return Subject(
        immutable_id=user.immutable_id,
        upn=upn,
        mfa=bool(request.session.get(sessions.PORTAL_MFA)),
        authn_instant=authn_instant,
        session_index=index,
    )


def answer(
    request: HttpRequest, federation: DomainFederation, user: User, message: requests.SamlMessage | None
) -> HttpResponse:
    """Decide, record, and (when issued) post the signed Response to Microsoft's ACS."""
    kind = message.binding if message else "idp-initiated"
    request_id = message.request_id if message else None
    decision = decisions.decide(user, federation)
    if not decision.issued or decision.binding is None:
        decisions.audit(decision, user, federation, request_id=request_id, binding_kind=kind)
        return refusal(request, decision.code, decision.words, status=403)
    subject = _subject(request, user, decision.binding.remote_upn)
    acs = endpoints.acs_url(federation.directory)
    with transaction.atomic():
        if request_id is not None:
            try:
                requests.mark_answered(federation.directory.organization_id, request_id)
            except RequestRefused as refused:
                refused_request(request, federation, refused, kind)
                return refusal(request, refused.code, refused.words, status=400)
        decisions.audit(
            decision,
            user,
            federation,
            request_id=request_id,
            binding_kind=kind,
            mfa=subject.mfa,
            signed=bool(message and message.signed),
        )
    key = keys.active_key(federation.directory.organization)
    xml = build_response(subject, Audience(federation.issuer_uri, acs, request_id), key)
    return autopost(request, acs, post_value(xml), message.relay_state if message else "")


@require_POST
@never_cache
@sessions.portal_login_required
def start(request: HttpRequest, org: str, domain: str) -> HttpResponse:
    """IdP-initiated sign-in from the User Portal home (CSRF-protected form)."""
    federation = federation_for(org, domain)
    user = sessions.current_user(request)
    assert user is not None
    return answer(request, federation, user, None)
