"""Admin Portal URLs for Microsoft 365, mounted at /directories/.

Every pattern is exercised by tests/m365/portal/test_portal_isolation.py.
"""

from django.urls import path

from lockstep.m365.portal import views

app_name = "m365portal"
urlpatterns = [
    path("", views.directory_list, name="list"),
    path("new/", views.directory_new, name="new"),
    path("<int:pk>/", views.directory_detail, name="detail"),
    path("<int:pk>/verify/", views.directory_verify, name="verify"),
    path("<int:pk>/settings/", views.directory_settings, name="settings"),
    path("<int:pk>/settings/managed/", views.directory_managed, name="managed"),
    path("<int:pk>/settings/brake/", views.directory_brake, name="brake"),
    path("<int:pk>/held/", views.held_list, name="held"),
    path("<int:pk>/held/decide/", views.held_decide, name="held_decide"),
    path("<int:pk>/import/", views.import_page, name="import"),
    path("<int:pk>/import/scan/", views.import_scan, name="import_scan"),
    path("<int:pk>/import/progress/", views.import_progress, name="import_progress"),
    path("<int:pk>/import/candidates/<int:candidate_pk>/", views.candidate_plan, name="candidate"),
    path("<int:pk>/import/preview/", views.import_preview, name="import_preview"),
    path("<int:pk>/import/start/", views.import_start, name="import_start"),
    path("<int:pk>/imports/<int:batch_pk>/", views.batch_detail, name="batch"),
    path("<int:pk>/imports/<int:batch_pk>/progress/", views.batch_progress, name="batch_progress"),
    path("<int:pk>/imports/<int:batch_pk>/undo/", views.batch_undo, name="batch_undo"),
    path("<int:pk>/groups/", views.remote_groups, name="groups"),
    path("<int:pk>/groups/import/", views.remote_groups_import, name="groups_import"),
    path("<int:pk>/plan/", views.pending_plan, name="plan"),
    path("<int:pk>/export.csv", views.bindings_export, name="export"),
    path("<int:pk>/deactivate/", views.directory_deactivate, name="deactivate"),
    path("users/<int:user_pk>/", views.user_directories, name="user"),
    path("users/<int:user_pk>/bind/", views.user_bind, name="user_bind"),
    path("users/<int:user_pk>/unbind/<int:pk>/", views.user_unbind, name="user_unbind"),
    path(
        "users/<int:user_pk>/delete-account/<int:pk>/", views.user_delete_account, name="user_delete_account"
    ),
    path("bindings/<int:binding_pk>/restore/", views.binding_restore, name="binding_restore"),
    path("groups/<int:group_pk>/", views.group_directories, name="group"),
    path("groups/<int:group_pk>/bind/", views.group_bind, name="group_bind"),
]
