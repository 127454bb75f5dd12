"""Tenants: which IAM principal ids own data, and which part of them names the owner."""

from __future__ import annotations

import pytest

from pixelmill.models.tenant import tenant_of_principal


@pytest.mark.parametrize(
    ("principal_id", "tenant"),
    [
        ("AIDAJQABLZS4A3QDU576Q", "AIDAJQABLZS4A3QDU576Q"),  # an IAM user, as API Gateway reports it
        ("AWS:AIDAJQABLZS4A3QDU576Q", "AIDAJQABLZS4A3QDU576Q"),  # the same user in an S3 notification
        ("AROAEXAMPLEROLEID0001:session-1", "AROAEXAMPLEROLEID0001"),  # a role's session: the role
        ("AWS:AROAEXAMPLEROLEID0001:other-session", "AROAEXAMPLEROLEID0001"),  # another session, same tenant
        ("123456789012", "123456789012"),  # the account's root
        ("79qamlqv3k2b1rclhanc", "79qamlqv3k2b1rclhanc"),  # an emulator user (moto's ids are lower case)
    ],
)
def test_a_principal_is_its_unique_id_and_a_role_is_itself_in_every_session(principal_id: str, tenant: str) -> None:
    assert tenant_of_principal(principal_id) == tenant


@pytest.mark.parametrize(
    "principal_id",
    [
        None,
        "",
        "123456789012:federated-name",  # GetFederationToken: no unique id of its own
        "AWS:123456789012:federated-name",
        "AROAEXAMPLEROLEID0001:",  # a role with no session is no principal id
        "local",  # too short: the local stack's own functions
        "AIDA/../../x",
        "anonymous",
    ],
)
def test_what_names_no_principal_that_can_own_data_is_refused(principal_id: str | None) -> None:
    assert tenant_of_principal(principal_id) is None
