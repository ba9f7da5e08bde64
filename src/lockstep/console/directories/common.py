"""Helpers shared by the Microsoft 365 directory pages of the Admin Portal."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from lockstep.m365 import directory_status
from lockstep.m365.graph.errors import GraphError
from lockstep.m365.models import Directory, HeldWrite
from lockstep.m365.services import directories

CANDIDATES_PAGE = 50
PREVIEW_WRITES = 500
PLAN_WRITES = 1000


def graph_words(error: GraphError) -> str:
    return error.plain_words or error.message or str(error)


def consent_link(request: HttpRequest, directory: Directory) -> str:
    redirect_uri = request.build_absolute_uri(reverse("directories:detail", args=[directory.pk]))
    return directories.consent_url(directory, redirect_uri, f"lockstep-directory-{directory.pk}")


def tab_context(request: HttpRequest, directory: Directory, tab: str) -> dict[str, Any]:
    return {
        "directory": directory,
        "tab": tab,
        "held_count": HeldWrite.objects.filter(directory=directory, decision="").count(),
        "directory_state": directory_status.state_of_directory(directory),
    }
