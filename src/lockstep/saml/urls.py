"""The IdP's endpoints, per organization and domain (see `endpoints`)."""

from django.urls import path

from lockstep.saml import views, views_slo, views_sso

app_name = "saml"
urlpatterns = [
    path("<slug:org>/<str:domain>/metadata", views.metadata_view, name="metadata"),
    path("<slug:org>/<str:domain>/sso", views_sso.sso, name="sso"),
    path("<slug:org>/<str:domain>/slo", views_slo.slo, name="slo"),
    path("<slug:org>/<str:domain>/start", views_sso.start, name="start"),
]
