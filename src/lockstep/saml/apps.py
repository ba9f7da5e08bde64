from django.apps import AppConfig


class SamlConfig(AppConfig):
    name = "lockstep.saml"
    label = "saml"
    verbose_name = "SAML single sign-on"
