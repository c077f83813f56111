import pytest

from objstore.common.paths import ApiPath, split_api_path, split_object_path, split_path


@pytest.mark.parametrize("path,args,expected", [
    ("/a", (1,), ["a"]),
    ("/a/", (1,), ["a"]),                      # one trailing slash is allowed
    ("/a/b", (1, 2), ["a", "b"]),
    ("/a", (1, 3), ["a", None, None]),
    ("/a/", (1, 2), ["a", ""]),
    ("/d/p/a/c/o/with/slashes", (5, 5, True), ["d", "p", "a", "c", "o/with/slashes"]),
    ("/d/p/a", (3, 5, True), ["d", "p", "a", None, None]),
    ("/d/p/a/c/", (3, 5, True), ["d", "p", "a", "c", ""]),
])
def test_split_path(path, args, expected):
    assert split_path(path, *args) == expected


@pytest.mark.parametrize("path,args", [
    ("", (1,)), ("a", (1,)), ("/", (1,)), ("//a", (1, 2)), ("/a//", (1,)),
    ("/a/b/c", (1, 2)), ("/d/p/a/c/", (5, 5, True)), ("/d//a/c/o", (5, 5, True)),
])
def test_split_path_refuses(path, args):
    with pytest.raises(ValueError):
        split_path(path, *args)


@pytest.mark.parametrize("version", ["v1", "v1.0"])
def test_api_path_on_both_versions(version):
    assert split_api_path(f"/{version}/AUTH_a") == ApiPath(version, "AUTH_a", None, None)
    assert split_api_path(f"/{version}/AUTH_a/c/o/x") == ApiPath(version, "AUTH_a", "c", "o/x")
    assert split_object_path(f"/{version}/AUTH_a/c/o/x") == ("AUTH_a", "c", "o/x")
    assert split_object_path(f"/{version}/AUTH_a/c") is None
    assert split_object_path(f"/{version}/AUTH_a/c/") is None


@pytest.mark.parametrize("path", ["/v2/AUTH_a/c/o", "/v1", "/v1/", "/v1//c/o", "/auth/v1.0", "/info"])
def test_not_api_paths(path):
    assert split_object_path(path) is None
    assert split_api_path(path) is None
