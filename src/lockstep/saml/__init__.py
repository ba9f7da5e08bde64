"""Lockstep as a SAML 2.0 identity provider for Microsoft 365 (SPEC 6), and the federation of a
tenant's domains through Graph (`internalDomainFederation`, graph-facts §8).

Layering: `saml` uses the `directory` core and the `m365` integration (models, Graph client);
neither of them imports `saml`. The Admin Portal, the API and the CLI call `saml.services`.
"""
