"""The IdP's pages shared by its endpoints: the federation a URL names, the refusal page, the
auto-posting form to Microsoft's ACS, and the metadata endpoint."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from lockstep.directory.models import Organization
from lockstep.ops.csp import relax
from lockstep.portal import sessions
from lockstep.portal.client_address import client_address
from lockstep.saml import decisions, metadata
from lockstep.saml.models import DomainFederation, FederationState
from lockstep.saml.xml_input import RequestRefused

DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
UNKNOWN = "No SAML metadata here."


def federation_for(org: str, domain: str) -> DomainFederation:
    """The federated domain the URL names (404 when it is not federated)."""
    found = (
        DomainFederation.objects.filter(
            directory__organization__slug=org, domain=domain.lower(), state=FederationState.FEDERATED
        )
        .select_related("directory__organization")
        .order_by("pk")
        .first()
    )
    if found is None:
        raise Http404("This domain does not sign in to Microsoft 365 through Lockstep.")
    return found


def refused_request(
    request: HttpRequest, federation: DomainFederation, refused: RequestRefused, binding_kind: str
) -> None:
    """Audit a request refused by its own checks: always when someone is signed in, otherwise
    at most once per (federation, reason, client address) a few minutes (no log flooding)."""
    decisions.audit_refused_request(
        federation,
        code=refused.code,
        words=refused.words,
        binding_kind=binding_kind,
        client=client_address(request),
        signed_in=sessions.current_user(request) is not None,
    )


def see_other(url: str) -> HttpResponse:
    """303: the browser follows with a GET (after a cross-site POST, with its cookies)."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def refusal(request: HttpRequest, code: str, words: str, *, status: int) -> HttpResponse:
    heading = (
        "You cannot sign in to Microsoft 365 here" if status == 403 else "This sign-in request was refused"
    )
    context = {
        "heading": heading,
        "code": code,
        "words": words,
        "portal_user": sessions.current_user(request) if sessions.PORTAL_USER in request.session else None,
    }
    return render(request, "saml/refused.html", context, status=status)


def autopost(request: HttpRequest, acs_url: str, saml_response: str, relay_state: str) -> HttpResponse:
    """The form that carries the response to Microsoft; the CSP lets it post to the ACS origin only."""
    response = render(
        request,
        "saml/autopost.html",
        {"acs_url": acs_url, "saml_response": saml_response, "relay_state": relay_state},
    )
    parts = urlsplit(acs_url)
    relax(response, form_action=f"{parts.scheme}://{parts.netloc}")
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@never_cache
def metadata_view(request: HttpRequest, org: str, domain: str) -> HttpResponse:
    """404 (the same as for an unknown organization) unless the domain is one Lockstep knows for
    the organization, and until it has a signing key: a GET never creates one."""
    name = domain.lower()
    organization = Organization.objects.filter(slug=org).first()
    if organization is None or not DOMAIN.match(name) or not metadata.serves(organization, name):
        raise Http404(UNKNOWN)
    body = metadata.entity_descriptor(organization, name)
    return HttpResponse(body, content_type=metadata.CONTENT_TYPE)
