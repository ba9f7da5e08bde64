"""Admin Portal URLs. Every pattern is exercised by tests/console/test_isolation.py."""

from django.urls import path

from lockstep.console.views import (
    audit,
    auth,
    bulk,
    csv_import,
    dashboard,
    email_settings,
    groups,
    lockouts,
    own_password,
    settings,
    user_emails,
    users,
)

app_name = "console"
urlpatterns = [
    path("", dashboard.dashboard, name="index"),
    path("login/", auth.login_view, name="login"),
    path("login/mfa/", auth.mfa_view, name="mfa"),
    path("login/mfa/enrol/", auth.mfa_enrol_view, name="mfa_enrol"),
    path("settings/recovery-codes/", auth.recovery_codes_view, name="recovery_codes"),
    path("logout/", auth.logout_view, name="logout"),
    path("users/", users.user_list, name="users"),
    path("users/export.csv", users.user_export, name="users_export"),
    path("users/new/", users.user_new, name="user_new"),
    path("users/bulk/", bulk.bulk_confirm, name="users_bulk"),
    path("users/bulk/apply/", bulk.bulk_apply, name="users_bulk_apply"),
    path("users/import/", csv_import.upload, name="users_import"),
    path("users/import/preview/", csv_import.preview, name="users_import_preview"),
    path("users/import/confirm/", csv_import.confirm, name="users_import_confirm"),
    path("users/import/errors.csv", csv_import.errors_csv, name="users_import_errors"),
    path("users/import/template.csv", csv_import.template_csv, name="users_import_template"),
    path("users/<int:pk>/", users.user_detail, name="user_detail"),
    path("users/<int:pk>/edit/", users.user_edit, name="user_edit"),
    path("users/<int:pk>/state/", users.user_state, name="user_state"),
    path("users/<int:pk>/password/", users.user_password, name="user_password"),
    path("users/<int:pk>/delete/", users.user_delete, name="user_delete"),
    path("users/<int:pk>/activation-email/", user_emails.user_send_activation, name="user_send_activation"),
    path("groups/", groups.group_list, name="groups"),
    path("groups/new/", groups.group_new, name="group_new"),
    path("groups/<int:pk>/", groups.group_detail, name="group_detail"),
    path("groups/<int:pk>/edit/", groups.group_edit, name="group_edit"),
    path("groups/<int:pk>/delete/", groups.group_delete, name="group_delete"),
    path("groups/<int:pk>/members/add/", groups.member_add, name="group_member_add"),
    path("groups/<int:pk>/members/<int:user_pk>/remove/", groups.member_remove, name="group_member_remove"),
    path("settings/", settings.organization_settings, name="settings"),
    path("settings/password/", own_password.own_password, name="own_password"),
    path("settings/administrators/", settings.administrators, name="administrators"),
    path("settings/administrators/<int:pk>/role/", settings.administrator_role, name="administrator_role"),
    path(
        "settings/administrators/<int:pk>/active/", settings.administrator_active, name="administrator_active"
    ),
    path(
        "settings/administrators/<int:pk>/remove/", settings.administrator_remove, name="administrator_remove"
    ),
    path("settings/api-keys/", settings.api_key_list, name="api_keys"),
    path("settings/api-keys/<int:pk>/revoke/", settings.api_key_revoke, name="api_key_revoke"),
    path("settings/email/", email_settings.email_settings, name="settings_email"),
    path("settings/email/test/", email_settings.email_test, name="settings_email_test"),
    path("settings/email/outbox/", email_settings.email_outbox, name="settings_outbox"),
    path("settings/email/outbox/<int:pk>/resend/", email_settings.email_resend, name="settings_email_resend"),
    path("settings/sign-in-locks/", lockouts.sign_in_locks, name="sign_in_locks"),
    path("settings/sign-in-locks/<int:pk>/clear/", lockouts.sign_in_lock_clear, name="sign_in_lock_clear"),
    path("audit/", audit.audit_log, name="audit"),
    path("audit/export.csv", audit.audit_export, name="audit_export"),
]
