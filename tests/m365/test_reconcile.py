"""The pure planner: desired + last known remote state -> Graph writes."""

from __future__ import annotations

from lockstep.m365.reconcile import DesiredGroup, DesiredUser, plan_group, plan_user

MANAGED = ["displayName", "jobTitle", "accountEnabled", "businessPhones"]


def desired(**overrides: object) -> DesiredUser:
    base: dict[str, object] = {
        "user_principal_name": "adele@contoso.com",
        "mail_nickname": "adele",
        "immutable_id": "abc123",
        "account_enabled": True,
        "attributes": {"displayName": "Adele Vance", "jobTitle": "CFO", "businessPhones": ["+1 555"]},
    }
    base.update(overrides)
    return DesiredUser(**base)  # type: ignore[arg-type]


def fixed_password() -> str:
    return "Random-Unknown-1"


def test_new_binding_creates_with_immutable_id_and_unknown_password() -> None:
    [op] = plan_user(
        desired=desired(),
        remote_id="",
        last_known={},
        managed=MANAGED,
        password=None,
        random_password=fixed_password,
    )
    assert (op.kind, op.method, op.url) == ("create_user", "POST", "/users")
    assert op.body is not None
    assert op.body["onPremisesImmutableId"] == "abc123"
    assert op.body["userPrincipalName"] == op.body["mail"] == "adele@contoso.com"
    assert op.body["passwordProfile"] == {
        "password": "Random-Unknown-1",
        "forceChangePasswordNextSignIn": False,
    }
    assert "Random-Unknown-1" not in op.describe()


def test_admin_initial_password_is_used_at_creation() -> None:
    [op] = plan_user(
        desired=desired(),
        remote_id="",
        last_known={},
        managed=MANAGED,
        password="Typed-By-Admin-7",
        random_password=fixed_password,
    )
    assert op.body is not None and op.body["passwordProfile"]["password"] == "Typed-By-Admin-7"


def test_nothing_changed_means_no_writes() -> None:
    known = {
        "displayName": "Adele Vance",
        "jobTitle": "CFO",
        "businessPhones": ["+1 555"],
        "accountEnabled": True,
        "userPrincipalName": "adele@contoso.com",
        "onPremisesImmutableId": "abc123",
    }
    assert (
        plan_user(
            desired=desired(),
            remote_id="r1",
            last_known=known,
            managed=MANAGED,
            password=None,
            random_password=fixed_password,
        )
        == []
    )


def test_only_managed_changed_attributes_are_patched_and_empty_clears() -> None:
    known = {
        "displayName": "Old",
        "jobTitle": "CFO",
        "accountEnabled": True,
        "businessPhones": ["+1 555"],
        "userPrincipalName": "adele@contoso.com",
        "onPremisesImmutableId": "abc123",
    }
    wanted = desired(
        attributes={
            "displayName": "Adele Vance",
            "jobTitle": "",
            "department": "Finance",
            "businessPhones": ["+1 555"],
        }
    )
    [op] = plan_user(
        desired=wanted,
        remote_id="r1",
        last_known=known,
        managed=MANAGED,
        password=None,
        random_password=fixed_password,
    )
    assert op.kind == "update_user"
    assert op.body == {"displayName": "Adele Vance", "jobTitle": None}  # department is not managed


def test_suspension_disables_and_revokes_sessions() -> None:
    known = {
        "accountEnabled": True,
        "userPrincipalName": "adele@contoso.com",
        "onPremisesImmutableId": "abc123",
        "displayName": "Adele Vance",
        "jobTitle": "CFO",
        "businessPhones": ["+1 555"],
    }
    ops = plan_user(
        desired=desired(account_enabled=False),
        remote_id="r1",
        last_known=known,
        managed=MANAGED,
        password=None,
        random_password=fixed_password,
    )
    assert [o.kind for o in ops] == ["update_user", "revoke_sessions"]
    assert ops[0].body == {"accountEnabled": False} and ops[0].disables


def test_gone_user_is_blocked_never_deleted() -> None:
    ops = plan_user(
        desired=None,
        remote_id="r1",
        last_known={"accountEnabled": True},
        managed=MANAGED,
        password=None,
        random_password=fixed_password,
    )
    assert [(o.method, o.url) for o in ops] == [
        ("PATCH", "/users/r1"),
        ("POST", "/users/r1/revokeSignInSessions"),
    ]
    assert all(o.method != "DELETE" for o in ops)


def test_password_goes_in_its_own_write_and_never_for_federated_domains() -> None:
    known = {
        "accountEnabled": True,
        "userPrincipalName": "adele@contoso.com",
        "onPremisesImmutableId": "abc123",
        "displayName": "Adele Vance",
        "jobTitle": "CFO",
        "businessPhones": ["+1 555"],
    }
    [op] = plan_user(
        desired=desired(),
        remote_id="r1",
        last_known=known,
        managed=MANAGED,
        password="New-Pass-99x",
        random_password=fixed_password,
    )
    assert op.kind == "set_password" and "New-Pass-99x" not in op.describe()
    assert (
        plan_user(
            desired=desired(),
            remote_id="r1",
            last_known=known,
            managed=MANAGED,
            password="New-Pass-99x",
            random_password=fixed_password,
            federated=True,
        )
        == []
    )


def test_group_membership_is_made_equal_both_ways() -> None:
    group = DesiredGroup("Ops", "ops-1", None, frozenset({"a", "b"}))
    ops = plan_group(
        desired=group,
        remote_id="g1",
        last_known={"displayName": "Ops"},
        remote_member_ids=frozenset({"b", "c"}),
    )
    assert [(o.kind, o.method, o.url) for o in ops] == [
        ("add_members", "PATCH", "/groups/g1"),
        ("remove_member", "DELETE", "/groups/g1/members/c/$ref"),
    ]
    assert ops[0].body == {"members@odata.bind": ["https://graph.microsoft.com/v1.0/directoryObjects/a"]}


def test_new_group_is_a_security_group_not_mail_enabled() -> None:
    [op] = plan_group(
        desired=DesiredGroup("Ops", "ops-1", None, frozenset()),
        remote_id="",
        last_known={},
        remote_member_ids=None,
    )
    assert op.body is not None
    assert (op.body["securityEnabled"], op.body["mailEnabled"], op.body["groupTypes"]) == (True, False, [])


def test_usage_location_is_never_cleared() -> None:
    known = {
        "usageLocation": "US",
        "accountEnabled": True,
        "userPrincipalName": "adele@contoso.com",
        "onPremisesImmutableId": "abc123",
        "displayName": "Adele Vance",
        "jobTitle": "CFO",
        "businessPhones": ["+1 555"],
    }
    wanted = desired(attributes={**desired().attributes, "usageLocation": ""})
    assert (
        plan_user(
            desired=wanted,
            remote_id="r1",
            last_known=known,
            managed=[*MANAGED, "usageLocation"],
            password=None,
            random_password=fixed_password,
        )
        == []
    )
