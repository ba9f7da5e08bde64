"""`/slo`: Microsoft's LogoutRequest (HTTP-Redirect or HTTP-POST) ends the User Portal session and
is answered with a signed LogoutResponse. A POST comes cross-site without the session cookie, so
it is checked and carried to our own GET first; an unsigned request must name the signed-in user
(NameID = immutable id), and a request id ends a session once. Without a request, a GET only asks
for confirmation (a CSRF-protected POST): a cross-site link alone signs nobody out."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from lockstep.portal import sessions
from lockstep.saml import continuation, endpoints, keys, requests
from lockstep.saml.logout import logout_response
from lockstep.saml.models import DomainFederation
from lockstep.saml.response import post_value
from lockstep.saml.views import autopost, federation_for, refusal, refused_request, see_other
from lockstep.saml.xml_input import RequestRefused

PURPOSE = "slo"


@csrf_exempt  # Microsoft posts here cross-site
@never_cache
def slo(request: HttpRequest, org: str, domain: str) -> HttpResponse:
    federation = federation_for(org, domain)
    if request.method == "GET" and "c" in request.GET:
        return _finish(request, federation, request.GET["c"])
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    kind = "redirect" if request.method == "GET" else "post"
    query_string = request.META.get("QUERY_STRING", "")
    try:
        fields = requests.received_fields(request.method, query_string, request.POST)
        if "SAMLRequest" not in fields:
            return _plain_sign_out(request)
        message = requests.receive(
            federation,
            fields=fields,
            query_string=query_string if kind == "redirect" else None,
            kind="LogoutRequest",
        )
    except RequestRefused as refused:
        refused_request(request, federation, refused, kind)
        return refusal(request, refused.code, refused.words, status=400)
    token = continuation.dumps(org, federation.domain, message, PURPOSE)
    return see_other(f"{request.path}?{urlencode({'c': token})}")


def _finish(request: HttpRequest, federation: DomainFederation, token: str) -> HttpResponse:
    try:
        carried = continuation.loads(
            token, federation.directory.organization.slug, federation.domain, PURPOSE
        )
    except RequestRefused as refused:
        return refusal(request, refused.code, refused.words, status=400)
    user = sessions.current_user(request)
    if user is not None and not carried.message.signed and carried.message.name_id != user.immutable_id:
        other = RequestRefused(
            "other_user",
            "This sign-out request is for another account than the one signed in here, so your session stays.",
        )
        refused_request(request, federation, other, carried.message.binding)
        return refusal(request, other.code, other.words, status=400)
    try:
        requests.mark_answered(federation.directory.organization_id, carried.message.request_id)
    except RequestRefused as refused:
        refused_request(request, federation, refused, carried.message.binding)
        return refusal(request, refused.code, refused.words, status=400)
    sessions.sign_out(request)
    acs = endpoints.acs_url(federation.directory)
    xml = logout_response(
        issuer=federation.issuer_uri,
        destination=acs,
        in_response_to=carried.message.request_id,
        key=keys.active_key(federation.directory.organization),
    )
    return autopost(request, acs, post_value(xml), carried.message.relay_state)


def _plain_sign_out(request: HttpRequest) -> HttpResponse:
    """Sign-out without a LogoutRequest: a GET (perhaps a cross-site link) only shows the
    confirmation page; the session ends on its CSRF-protected POST."""
    if request.method == "POST":
        return csrf_protect(_sign_out_confirmed)(request)
    return render(request, "saml/sign_out.html", {"signed_in": sessions.current_user(request) is not None})


def _sign_out_confirmed(request: HttpRequest) -> HttpResponse:
    sessions.sign_out(request)
    return render(request, "saml/signed_out.html")
