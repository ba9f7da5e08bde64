"""Admin Portal URLs for Microsoft 365 directories, mounted at /directories/.

Every pattern is exercised by tests/m365/console_pages/test_portal_isolation.py.
"""

from django.urls import path

from lockstep.console.directories import bindings, imports, pages, sso, status

app_name = "directories"
urlpatterns = [
    path("", pages.directory_list, name="list"),
    path("cards/", status.directory_cards, name="cards"),
    path("new/", pages.directory_new, name="new"),
    path("<int:pk>/", pages.directory_detail, name="detail"),
    path("<int:pk>/verify/", pages.directory_verify, name="verify"),
    path("<int:pk>/settings/", pages.directory_settings, name="settings"),
    path("<int:pk>/settings/managed/", pages.directory_managed, name="managed"),
    path("<int:pk>/settings/brake/", pages.directory_brake, name="brake"),
    path("<int:pk>/held/", pages.held_list, name="held"),
    path("<int:pk>/held/decide/", pages.held_decide, name="held_decide"),
    path("<int:pk>/import/", imports.import_page, name="import"),
    path("<int:pk>/import/scan/", imports.import_scan, name="import_scan"),
    path("<int:pk>/import/progress/", imports.import_progress, name="import_progress"),
    path("<int:pk>/import/candidates/<int:candidate_pk>/", imports.candidate_plan, name="candidate"),
    path("<int:pk>/import/preview/", imports.import_preview, name="import_preview"),
    path("<int:pk>/import/start/", imports.import_start, name="import_start"),
    path("<int:pk>/imports/<int:batch_pk>/", imports.batch_detail, name="batch"),
    path("<int:pk>/imports/<int:batch_pk>/progress/", imports.batch_progress, name="batch_progress"),
    path("<int:pk>/imports/<int:batch_pk>/undo/", imports.batch_undo, name="batch_undo"),
    path("<int:pk>/groups/", imports.remote_groups, name="groups"),
    path("<int:pk>/groups/import/", imports.remote_groups_import, name="groups_import"),
    path("<int:pk>/plan/", pages.pending_plan, name="plan"),
    path("<int:pk>/export.csv", pages.bindings_export, name="export"),
    path("<int:pk>/sso/", sso.sso_page, name="sso"),
    path("<int:pk>/sso/keys/next/", sso.sso_key_next, name="sso_key_next"),
    path("<int:pk>/sso/keys/promote/", sso.sso_key_promote, name="sso_key_promote"),
    path("<int:pk>/sso/<str:domain>/immutable-ids/", sso.sso_immutable_ids, name="sso_immutable_ids"),
    path("<int:pk>/sso/<str:domain>/test/", sso.sso_test, name="sso_test"),
    path("<int:pk>/sso/<str:domain>/federate/", sso.sso_federate, name="sso_federate"),
    path("<int:pk>/sso/<str:domain>/roll-back/", sso.sso_roll_back, name="sso_roll_back"),
    path("<int:pk>/sso/<str:domain>/signed-requests/", sso.sso_signed_requests, name="sso_signed_requests"),
    path("<int:pk>/deactivate/", pages.directory_deactivate, name="deactivate"),
    path("users/<int:user_pk>/", bindings.user_directories, name="user"),
    path("users/<int:user_pk>/status/", status.user_status, name="user_status"),
    path("users/<int:user_pk>/bind/", bindings.user_bind, name="user_bind"),
    path("users/<int:user_pk>/unbind/<int:pk>/", bindings.user_unbind, name="user_unbind"),
    path(
        "users/<int:user_pk>/delete-account/<int:pk>/",
        bindings.user_delete_account,
        name="user_delete_account",
    ),
    path("bindings/<int:binding_pk>/restore/", bindings.binding_restore, name="binding_restore"),
    path("groups/<int:group_pk>/", bindings.group_directories, name="group"),
    path("groups/<int:group_pk>/status/", status.group_status, name="group_status"),
    path("groups/<int:group_pk>/bind/", bindings.group_bind, name="group_bind"),
    path("groups/<int:group_pk>/unbind/<int:pk>/", bindings.group_unbind, name="group_unbind"),
]
