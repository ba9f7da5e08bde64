"""`/slo`: Microsoft's LogoutRequest (HTTP-Redirect or HTTP-POST) ends the User Portal session and
is answered with a signed LogoutResponse; without a request, a plain signed-out page. A POST
comes cross-site without the session cookie, so it is checked and carried to our own GET first."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from lockstep.portal import sessions
from lockstep.saml import continuation, decisions, endpoints, keys, requests
from lockstep.saml.logout import logout_response
from lockstep.saml.models import DomainFederation
from lockstep.saml.response import post_value
from lockstep.saml.views import autopost, federation_for, refusal, see_other
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
    data = request.GET if request.method == "GET" else request.POST
    if "SAMLRequest" not in data:
        if request.method == "GET":
            sessions.sign_out(request)
        return render(request, "saml/signed_out.html")
    kind = "redirect" if request.method == "GET" else "post"
    try:
        message = requests.receive(
            federation,
            saml_request=data.get("SAMLRequest"),
            relay_state=data.get("RelayState"),
            query_string=request.META.get("QUERY_STRING", "") if kind == "redirect" else None,
            kind="LogoutRequest",
        )
    except RequestRefused as refused:
        decisions.audit_refused_request(federation, code=refused.code, words=refused.words, binding_kind=kind)
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
    sessions.sign_out(request)
    acs = endpoints.acs_url(federation.directory)
    xml = logout_response(
        issuer=federation.issuer_uri,
        destination=acs,
        in_response_to=carried.message.request_id,
        key=keys.active_key(federation.directory.organization),
    )
    return autopost(request, acs, post_value(xml), carried.message.relay_state)
