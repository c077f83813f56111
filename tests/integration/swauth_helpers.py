"""A cluster whose proxy runs the swauth filter, and the SAIO-like users in its store.

Users (``account:user`` -> key, what they are)::

    test:tester   testing   .admin of test        test2:tester2  testing2  .admin of test2
    test:tester3  testing3  plain user            test5:tester5  testing5  group "service"
    test:tester6  testing6  .reseller_admin
"""
from __future__ import annotations

from tests.cluster import Cluster

SUPER_KEY = "super-secret-admin-key"
PIPELINE = "catch_errors gatekeeper healthcheck swauth dlo slo copy proxy-server"
SUPER = {"X-Auth-Admin-User": ".super_admin", "X-Auth-Admin-Key": SUPER_KEY}
USERS = {  # account:user -> (key, extra admin headers)
    "test:tester": ("testing", {"X-Auth-User-Admin": "true"}),
    "test:tester3": ("testing3", {}),
    "test:tester6": ("testing6", {"X-Auth-User-Reseller-Admin": "true"}),
    "test2:tester2": ("testing2", {"X-Auth-User-Admin": "true"}),
    "test5:tester5": ("testing5", {"X-Auth-User-Groups": "service"}),
}


def swauth_cluster(**swauth_options: str) -> Cluster:
    options = {"super_admin_key": SUPER_KEY, "reseller_prefix": "AUTH, SERVICE",
               "SERVICE_require_group": "service", "token_cache_life": "1", **swauth_options}
    return Cluster(nodes=2, replicas=2, pipeline=PIPELINE,
                   proxy_options={"workers": "2", "recheck_account_existence": "1",
                                  "recheck_container_existence": "1"},
                   extra_sections={"filter:swauth": options})


def admin(user: str) -> dict[str, str]:
    """Admin API headers for ``account:user`` (its key from USERS)."""
    return {"X-Auth-Admin-User": user, "X-Auth-Admin-Key": USERS[user][0]}


def add_users(cluster: Cluster) -> None:
    """Prepare the store and add the accounts (storage account ``AUTH_<name>``) and USERS."""
    assert cluster.request("POST", "/auth/v2/.prep", headers=SUPER)[0] == 204
    for account in sorted({name.split(":")[0] for name in USERS}):
        status = cluster.request("PUT", f"/auth/v2/{account}",
                                 headers={**SUPER, "X-Account-Suffix": account})[0]
        assert status == 201, status
    for name, (key, extra) in USERS.items():
        account, user = name.split(":")
        status = cluster.request("PUT", f"/auth/v2/{account}/{user}",
                                 headers={**SUPER, "X-Auth-User-Key": key, **extra})[0]
        assert status == 201, status


def login(cluster: Cluster, user: str, key: str | None = None, **headers: str
          ) -> tuple[int, dict[str, str], bytes]:
    key = USERS[user][0] if key is None else key
    return cluster.request("GET", "/auth/v1.0",
                           headers={"X-Auth-User": user, "X-Auth-Key": key, **headers})


def token(cluster: Cluster, user: str, **headers: str) -> str:
    status, found, body = login(cluster, user, **headers)
    assert status == 200, (status, body)
    return found["x-auth-token"]
