"""The IdP's endpoints, per organization and domain (see `endpoints`)."""

from django.urls import URLPattern

app_name = "saml"
urlpatterns: list[URLPattern] = []
